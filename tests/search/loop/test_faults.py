"""Faults inside a trial stay inside it: the trial ends PRUNED or FAIL with its reason recorded, and
the study goes on to its target. Also: a worker that finds the last trials running elsewhere waits,
and takes over a trial whose worker died (stale heartbeat)."""

from __future__ import annotations

import time
import weakref
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from optuna.trial import TrialState

import search.loop.objective as objective
from search.config import SearchConfig
from search.errors import UserError
from search.loop.run import prepare_study, run_search, work
from space import REFERENCES, sample

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _args(tmp_path: Path, mnist_root: Path, n_trials: int, **kw) -> SearchConfig:
    return SearchConfig(
        budget=2000, n_trials=n_trials, epochs=1, study_name="faults", study_dir=tmp_path,
        data_dir=str(mnist_root), device="cpu", val_size=500, train_subset=1000, quiet=True,
        warm_start=False, references=False, **kw,
    )


def _by_number(study) -> dict:
    return {t.number: t for t in study.get_trials()}


@pytest.mark.slow
def test_nan_and_diverging_lr_end_pruned_with_reason(monkeypatch, tmp_path, mnist_root, tiny_data):
    real = objective.sample

    def fake_sample(trial, budget, epochs):
        cand = real(trial, budget, epochs)
        if trial.number == 0:  # lr = inf: the first step makes every weight NaN
            return replace(cand, train=replace(cand.train, optimizer="sgd", lr=float("inf")))
        if trial.number == 1:  # lr = 10 on a BatchNorm net: finite, but a loss near 1e13
            ref = REFERENCES["ref6016"]
            hp = replace(ref.train, optimizer="sgd", lr=10.0, schedule="none", epochs=epochs)
            return replace(ref, train=hp)
        return cand

    monkeypatch.setattr(objective, "sample", fake_sample)
    study = run_search(_args(tmp_path, mnist_root, 3), data=tiny_data)
    t = _by_number(study)
    assert t[0].state == TrialState.PRUNED
    assert t[0].user_attrs["stop_reason"] == "non-finite loss at epoch 1"
    assert t[1].state == TrialState.PRUNED
    assert t[1].user_attrs["stop_reason"].startswith("diverged: training loss ")
    assert float(t[1].user_attrs["stop_reason"].split()[3]) > objective.DIVERGED_LOSS
    assert t[2].state == TrialState.COMPLETE  # the study went on
    assert len(study.trials) == 3 and (tmp_path / "faults" / "pareto.csv").is_file()


@pytest.mark.slow
def test_oom_and_errors_fail_with_reason_and_free_memory(monkeypatch, tmp_path, mnist_root,
                                                         tiny_data):
    built: list[weakref.ref] = []
    real_build, real_train = objective.build, objective.train
    alive_at_next_trial: list[bool] = []

    def fake_build(net):
        model = real_build(net)
        built.append(weakref.ref(model))
        return model

    def fake_train(model, hp, data, **kw):
        call = len(built) - 1
        if call == 0:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        alive_at_next_trial.append(built[0]() is not None)
        if call == 1:
            raise RuntimeError("boom\nsecond line")
        return real_train(model, hp, data, **kw)

    monkeypatch.setattr(objective, "build", fake_build)
    monkeypatch.setattr(objective, "train", fake_train)
    study = run_search(_args(tmp_path, mnist_root, 2), data=tiny_data)
    t = _by_number(study)
    assert t[0].state == TrialState.FAIL
    assert t[0].user_attrs["fail_reason"] == (
        "CUDA out of memory: OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
    assert alive_at_next_trial[0] is False  # the OOM trial's model was freed before trial 1
    assert t[1].state == TrialState.FAIL
    assert t[1].user_attrs["fail_reason"] == "RuntimeError: boom second line"
    assert [t[n].state for n in (2, 3)] == [TrialState.COMPLETE] * 2  # the study went on
    assert len(study.get_trials(states=FINISHED)) == 2


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_real_cuda_oom_fails_the_trial_and_frees_its_memory(monkeypatch, tmp_path, mnist_root,
                                                            tiny_data):
    real_train = objective.train
    calls: list[int] = []

    def hungry_train(model, hp, data, **kw):
        calls.append(torch.cuda.memory_allocated())
        if len(calls) == 1:
            held = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda")  # freed with us
            torch.empty(2**50, dtype=torch.uint8, device="cuda")  # 1 PiB: a real OOM
            del held
        return real_train(model, hp, data, **kw)

    monkeypatch.setattr(objective, "train", hungry_train)
    study = run_search(_args(tmp_path, mnist_root, 1), data=tiny_data)
    t = _by_number(study)
    assert t[0].state == TrialState.FAIL
    assert t[0].user_attrs["fail_reason"].startswith("CUDA out of memory: OutOfMemoryError: ")
    assert calls[1] <= calls[0]  # the failed trial's 256 MiB were released before trial 1
    assert t[1].state == TrialState.COMPLETE


def test_systematic_failure_stops_with_one_line(monkeypatch, tmp_path, mnist_root, tiny_data):
    def oom(*_a, **_k):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory.")

    monkeypatch.setattr(objective, "train", oom)
    with pytest.raises(UserError) as e:
        run_search(_args(tmp_path, mnist_root, 5), data=tiny_data)
    assert str(e.value) == (
        "3 trials in a row failed; last: CUDA out of memory: OutOfMemoryError: CUDA out of memory.")
    assert "\n" not in str(e.value)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed")  # our study.ask() below
@pytest.mark.parametrize("beats", [1, 0], ids=["died-after-a-beat", "died-before-its-first-beat"])
def test_worker_waits_for_running_trial_and_takes_over_a_dead_one(
        monkeypatch, tmp_path, mnist_root, tiny_data, capsys, beats):
    monkeypatch.setenv("NAS_MNIST_HEARTBEAT_S", "1")
    monkeypatch.setenv("NAS_MNIST_GRACE_S", "2")
    a = _args(tmp_path, mnist_root, 2)
    study = prepare_study(a, data=tiny_data)
    dead = study.ask()  # the trial of a worker that dies (Optuna ignores one that never beat)
    sample(dead, a.budget, a.epochs)
    for _ in range(beats):
        study._storage.record_heartbeat(dead._trial_id)
    t0 = time.monotonic()
    work(a, study, data=tiny_data)
    assert time.monotonic() - t0 > 2  # it had to wait out the grace period
    assert "waiting for 1 trial(s) running in other workers" in capsys.readouterr().out
    trials = study.get_trials()
    assert trials[dead.number].state == TrialState.FAIL
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retry) == 1 and retry[0].state in FINISHED
    assert retry[0].params == trials[dead.number].params  # the same candidate, run again
    assert len(study.get_trials(states=FINISHED)) == 2
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
