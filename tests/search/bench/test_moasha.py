"""The MOASHA arms of `bench front` (search.bench.moasha*): the space and the trials translated,
the scheduler's seeds and rungs, one-line refusals, and a quick bench of three arms end to end."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import os
import random
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch
from optuna.artifacts import FileSystemArtifactStore
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState

from search.bench import moasha_space
from search.bench.front import hv_curve
from search.bench.moasha_space import drawn, union
from search.bench.moasha_study import Seen, optuna_trial
from search.bench.moasha_trial import STOP_REASON, WEIGHTS
from search.cli import main
from search.loop.pruner import ParetoPruner
from space import build, count_params, decode, suggest

T0 = dt.datetime(2026, 1, 1, 12, 0)


@pytest.fixture
def syne_tune() -> None:
    """Skip, saying why, without the peers extra; fail where CI=true (.ci/run installs it)."""
    if importlib.util.find_spec("syne_tune") is None:
        why = "syne-tune is not installed: pip install -e '.[peers]'"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}: CI must run the MOASHA arm's tests")
        pytest.skip(why)


def _random_config(seed: int) -> dict:
    """A value for every key of the union, as a flat sampler such as MOASHA's draws them."""
    rng, out = random.Random(seed), {}
    for k, d in union().items():
        if isinstance(d, IntDistribution):
            out[k] = rng.randint(d.low, d.high)
        elif isinstance(d, FloatDistribution):
            out[k] = (math.exp(rng.uniform(math.log(d.low), math.log(d.high))) if d.log
                      else rng.uniform(d.low, d.high))
        else:
            out[k] = rng.choice(d.choices)
    return out


def test_the_union_holds_every_key_any_draw_asks_for_with_its_domain() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    u = union()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(0))
    seen: set[str] = set()
    for _ in range(300):
        t = study.ask()
        suggest(t)
        assert set(t.params) <= set(u), set(t.params) - set(u)
        assert all(t.distributions[k] == u[k] for k in t.params)
        seen |= set(t.params)
    assert seen == set(u)  # and nothing in it that no draw asks for


def test_drawn_keeps_the_keys_of_the_draw_and_decode_ignores_the_rest() -> None:
    for seed in range(20):
        config = _random_config(seed)
        params, dists = drawn(config)
        replayed = optuna.trial.FixedTrial(params)
        assert suggest(replayed) == params  # exactly the keys this draw asks for
        assert set(dists) == set(params) and len(params) < len(config)
        assert decode(config, 5000) == decode(params, 5000)
        assert count_params(decode(params, 5000).net) <= 5000


def _seen(tmp_path: Path, k: int, accs: list[float], **kw) -> Seen:
    config = {**_random_config(k), "trial_seed": 7 + k, "warm_start": kw.pop("label", "")}
    results = [{"epoch": e, "val_acc": a, "val_err": 100 - a, "params": 0, "val_loss": 0.1,
                "epoch_s": 1.5, "st_worker_timestamp": (T0 + dt.timedelta(minutes=k + e))
                .timestamp()} for e, a in enumerate(accs, start=1)]
    return Seen(config, T0 + dt.timedelta(minutes=k), tmp_path / str(k), results, **kw)


def test_syne_tune_trials_become_trials_of_our_study_shape(tmp_path: Path) -> None:
    done = _seen(tmp_path, 0, [90.0, 95.0, 97.5], status="Completed", stopped=True,
                 label="onepool@0.9k")
    done.folder.mkdir()
    torch.save(build(decode(drawn(done.config)[0], 5000, 3).net).state_dict(),
               done.folder / WEIGHTS)
    cut = _seen(tmp_path, 1, [80.0], status="Stopped", stopped=True)
    diverged = _seen(tmp_path, 2, [10.0], status="Completed")
    diverged.folder.mkdir()
    (diverged.folder / STOP_REASON).write_text("diverged: training loss 1e+03 at epoch 1\n")
    failed = _seen(tmp_path, 3, [], status="Failed", error="RuntimeError: boom")
    (tmp_path / "artifacts").mkdir()
    store = FileSystemArtifactStore(str(tmp_path / "artifacts"))
    study = optuna.create_study(directions=["maximize", "minimize"])
    for s in (done, cut, diverged, failed):
        study.add_trial(optuna_trial(s, budget=5000, epochs=3, device="cpu", store=store))
    t = study.get_trials()
    assert [x.state for x in t] == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.PRUNED,
                                    TrialState.FAIL]
    n = t[0].user_attrs["params"]
    assert t[0].values == [97.5, n] and n <= 5000
    assert t[0].params == drawn(done.config)[0] and t[0].user_attrs["warm_start"] == "onepool@0.9k"
    assert t[0].user_attrs["val_acc"] == [90.0, 95.0, 97.5] and t[0].user_attrs["seed"] == 7
    assert t[0].intermediate_values == {1: 90.0, 2: 95.0, 3: 97.5}
    assert decode(t[0].params, 5000, 3).to_dict() == t[0].user_attrs["config"]
    with store.open_reader(t[0].user_attrs["weights_artifact"]) as f:
        assert set(torch.load(f, weights_only=True)) == set(build(
            decode(t[0].params, 5000).net).state_dict())
    assert not (done.folder / WEIGHTS).exists()  # moved, not copied
    assert t[1].user_attrs["stop_reason"] == "MOASHA stopped it at rung epoch 1"
    assert t[2].user_attrs["stop_reason"].startswith("diverged")
    assert t[3].user_attrs["fail_reason"] == "RuntimeError: boom"
    # the times are Syne Tune's: started at minute 0, last report at minute 3
    assert (t[0].datetime_start, t[0].datetime_complete) == (T0, T0 + dt.timedelta(minutes=3))
    curve = hv_curve(t, budget=5000, ref_acc=90.0)
    assert list(curve["minutes"]) == [0.0, 3.0] and curve["hv_log"].iloc[-1] > 0


def test_arms_are_refused_in_one_line_before_anything_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "front"
    cases = [(["--arms", "a"], "two or more different arms"),
             (["--arms", "a,a"], "two or more different arms"),
             (["--arms", "a,x"], "unknown arm x: choose from a (default search)"),
             (["--arms", "a,c", "--against", "HEAD"], "--against REV replaces arm b")]
    for flags, msg in cases:
        assert main(["bench", "front", "--quick", *flags, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, err
    monkeypatch.setattr(moasha_space, "_PACKAGE", "no_such_package_xyz")
    assert main(["bench", "front", "--quick", "--arms", "a,d", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "syne-tune is not installed: pip install -e '.[peers]'" in err
    assert err.count("\n") == 1 and not out.exists()


@pytest.mark.usefixtures("syne_tune")
@pytest.mark.parametrize("epochs", [8, 15])
def test_moashas_rungs_are_our_pruners_and_warm_starts_come_first(epochs: int) -> None:
    from search.bench.moasha import METRICS, _Moasha
    from space import warm_starts

    points = warm_starts(10_000, (("onepool", 0),))

    def scheduler(warm: bool) -> _Moasha:
        return _Moasha(moasha_space.config_space({"epochs": epochs}), points if warm else [], 3,
                       metrics=METRICS, time_attr="epoch", max_t=epochs, grace_period=1,
                       reduction_factor=3)

    rungs = sorted(r for r, _ in scheduler(False).brackets[0].rungs if r < epochs)
    assert rungs == ParetoPruner().rungs(epochs)
    s = scheduler(True)
    warm = [s.suggest().config for _ in range(len(points) + 2)]
    assert [c["warm_start"] for c in warm] == [lab for lab, _ in points] + ["", ""]
    assert [c["trial_seed"] for c in warm] == list(range(3, 3 + len(points) + 2))
    assert all(drawn(c)[0] == p for c, (_, p) in zip(warm, points, strict=False))
    one, two = scheduler(False), scheduler(False)  # the same seed draws the same configurations
    drawn_twice = [[json.dumps(x.suggest().config, default=str) for _ in range(3)]
                   for x in (one, two)]
    assert drawn_twice[0] == drawn_twice[1] and len(set(drawn_twice[0])) == 3
    plain_run = scheduler(False)  # past d's warm starts, its trial k is c's trial k
    c = [plain_run.suggest().config for _ in range(len(points) + 2)]
    assert c[len(points):] == warm[len(points):] and c[0] != warm[0]


@pytest.mark.slow
def test_a_trial_reports_every_epoch_and_saves_its_weights(mnist_root: Path,
                                                           tmp_path: Path) -> None:
    from search.bench.moasha_trial import run_trial

    config = {**_random_config(1), "budget": 2000, "epochs": 2, "val_size": 500,
              "train_subset": 1000, "data_dir": str(mnist_root), "device": "cpu",
              "threads": 1, "trial_seed": 4}
    reports: list[dict] = []

    def report(**kw) -> None:  # MOASHA may end the process at any report: files come first
        reports.append({**kw, "weights there": (tmp_path / "t" / WEIGHTS).is_file()})

    run_trial(config, tmp_path / "t", report)
    n = count_params(decode(drawn(config)[0], 2000).net)
    assert [r["epoch"] for r in reports] == [1, 2] and {r["params"] for r in reports} == {n}
    assert [r["weights there"] for r in reports] == [False, True]
    assert all(r["val_err"] == pytest.approx(100 - r["val_acc"]) for r in reports)
    assert (tmp_path / "t" / WEIGHTS).is_file() and not (tmp_path / "t" / STOP_REASON).exists()


@pytest.mark.slow
@pytest.mark.usefixtures("syne_tune")
def test_front_quick_with_the_moasha_arms_end_to_end(mnist_root: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "front"
    assert main(["bench", "front", "--quick", "--seeds", "1", "--arms", "a,c,d",
                 "--device", "cpu", "--data-dir", str(mnist_root), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "min to c's HV" in text and "Syne Tune MOASHA, our warm starts first" in text
    runs = pd.read_csv(out / "front_runs.csv")
    assert list(runs["arm"]) == ["a", "c", "d"] and (runs["complete"] >= 1).all()
    for arm in "cd":
        study = optuna.load_study(study_name=f"{arm}-s0", storage=f"sqlite:///{out}/{arm}-s0.db")
        assert study.user_attrs["settings"]["budget"] == 2000
        assert study.user_attrs["settings"]["sampler"].startswith("syne-tune moasha")
        done = [t for t in study.trials if t.state == TrialState.COMPLETE]
        assert done and all(t.values[1] <= 2000 and t.user_attrs["weights_artifact"]
                            for t in done)
        labels = [t.user_attrs.get("warm_start") for t in study.trials]
        assert bool(labels[0]) == (arm == "d")  # d starts with our warm starts, c does not
    # bench score reads the three arms like any others
    assert main(["bench", "score", str(out), "--quick", "--out", str(tmp_path / "s")]) == 0
    assert "min to d's HV" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.usefixtures("syne_tune")
def test_importing_the_arm_leaves_omp_num_threads_as_it_was() -> None:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    code = ("import os, search.bench.moasha, syne_tune.backend; "
            "print(os.environ.get('OMP_NUM_THREADS'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[3]).stdout
    assert out.strip() == "None"  # syne_tune's import alone would have set it to 1
