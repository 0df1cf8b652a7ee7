"""Warm starts: a new study's first trials are proven shapes re-widthed to sizes up to its
budget (points of the space), then the reference nets within its budget; both are trained to
the end, whatever the pruner says."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

from search.cli import build_parser
from search.config import SearchConfig
from search.loop.objective import Objective
from search.loop.pruner import ParetoPruner
from search.loop.run import run_search
from search.loop.starts import queue_references, queue_warm_starts
from search.results.pareto import front_table
from space import REFERENCES, Candidate, count_params, decode, smallest_budget, warm_starts
from space.warmstart import warm_sizes

SIZES = {n: count_params(c.net) for n, c in REFERENCES.items()}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    prev = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny nets: threads only add hand-off cost on a busy machine
    yield
    torch.set_num_threads(prev)


def _memory_study() -> optuna.Study:
    return optuna.create_study(directions=["maximize", "minimize"])


@pytest.mark.parametrize("budget", [smallest_budget(), 5_000, 6_016, 10_000, 13_914, 20_000])
def test_queues_scaled_shapes_then_the_references_within_budget(budget: int) -> None:
    study = _memory_study()
    labels = queue_warm_starts(study, budget) + queue_references(study, budget)
    warm = warm_starts(budget, SearchConfig.warm_plan)
    refs = [n for n in REFERENCES if SIZES[n] <= budget]  # in REFERENCES order
    assert labels == [lab for lab, _ in warm] + refs
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert [t.user_attrs.get("warm_start") for t in waiting[: len(warm)]] == labels[: len(warm)]
    fixed = [t.system_attrs["fixed_params"] for t in waiting[: len(warm)]]
    assert fixed == [p for _, p in warm]  # points of the space, as the sampler will see them
    assert [t.user_attrs.get("reference") for t in waiting[len(warm):]] == refs
    if budget == 10_000:  # ref10224 is 224 params over; the starts sit under round caps
        assert refs == ["ref6016", "ref9902"]
        assert [lab for lab, _ in warm] == ["onepool_sep@0.9k", "onepool_sep@2.0k",
                                            "onepool_sep@4.4k", "onepool_sep@10.0k"]
        assert all(n <= s for n, s in zip(_sizes(warm, budget), warm_sizes(budget)[::-1],
                                          strict=True))


def _sizes(warm: list[tuple[str, dict]], budget: int) -> list[int]:
    return [count_params(decode(p, budget).net) for _, p in warm]


def test_warm_starts_follow_the_plan_given() -> None:
    study = _memory_study()
    labels = queue_warm_starts(study, 10_000, (("ref10224", 5000),))
    assert labels and all(lab.startswith("ref10224@") for lab in labels)
    assert all(float(lab.split("@")[1][:-1]) >= 4.0 for lab in labels)  # from ~5k up
    assert not [t for t in study.get_trials() if "reference" in t.user_attrs]


def _args(study_dir: Path, name: str, n_trials: int, warm: bool = True,
          references: bool = True) -> SearchConfig:
    return SearchConfig(budget=7000, n_trials=n_trials, epochs=1, study_name=name,
                        study_dir=study_dir, device="cpu", val_size=500, train_subset=1000,
                        warm_start=warm, references=references, quiet=True)


@pytest.mark.slow
def test_new_study_starts_with_warm_starts_and_labels_them(tmp_path: Path, tiny_data) -> None:
    n_warm = len(warm_starts(7000, SearchConfig.warm_plan))
    study = run_search(_args(tmp_path, "warm", n_warm + 1), data=tiny_data)
    trials = sorted(study.get_trials(), key=lambda t: t.number)
    assert all(t.state == TrialState.COMPLETE for t in trials)
    first = trials[0]
    shape = SearchConfig.warm_plan[0][0]  # the plan's first shape, smallest size first
    assert first.user_attrs["warm_start"].startswith(f"{shape}@") and first.params
    tr = first.user_attrs["config"]["train"]
    assert (tr["optimizer"], tr["lr"], tr["schedule"]) == ("sgd", 0.1, "onecycle")  # fast recipe
    ref = trials[n_warm]  # then the only reference within 7000 params, with its own recipe
    assert ref.user_attrs["reference"] == "ref6016"
    want = REFERENCES["ref6016"]
    got = Candidate.from_dict(ref.user_attrs["config"])
    assert got == replace(want, train=replace(want.train, epochs=1))
    assert ref.values[1] == ref.user_attrs["params"] == SIZES["ref6016"]
    # labels reach the front table and its CSV
    df = front_table(study)
    named = dict(zip(df["trial"], df["reference"], strict=True))
    for t in trials:
        if t.number in named:
            assert named[t.number] == (t.user_attrs.get("reference")
                                       or t.user_attrs.get("warm_start", ""))
    csv = (tmp_path / "warm" / "pareto.csv").read_text()
    assert any(lab in csv for lab in named.values() if lab)

    # resuming does not queue them again: the next trial is a sampled one
    study = run_search(_args(tmp_path, "warm", n_warm + 2), data=tiny_data)
    t = next(t for t in study.get_trials() if t.number == n_warm + 1)
    assert "reference" not in t.user_attrs and "warm_start" not in t.user_attrs and t.params


def test_warm_start_and_references_are_separate_flags() -> None:
    def flags(*argv: str) -> tuple[bool, bool]:
        ns = build_parser().parse_args(["search", *argv])
        return ns.warm_start, ns.references

    assert flags() == (True, False)  # the references are the yardstick, not candidates
    assert flags("--no-warm-start") == (False, False)
    assert flags("--references") == (True, True)
    assert flags("--no-warm-start", "--references") == (False, True)
    assert flags("--references", "--no-references") == (True, False)


@pytest.mark.slow
def test_references_without_warm_starts(tmp_path: Path, tiny_data) -> None:
    study = run_search(_args(tmp_path, "refs", 1, warm=False), data=tiny_data)
    (done,) = [t for t in study.get_trials() if t.state != TrialState.WAITING]
    assert done.user_attrs["reference"] == "ref6016"  # the only one within 7000 params
    assert not [t for t in study.get_trials() if "warm_start" in t.user_attrs]


@pytest.mark.slow
def test_neither(tmp_path: Path, tiny_data) -> None:
    study = run_search(_args(tmp_path, "cold", 1, warm=False, references=False), data=tiny_data)
    (t,) = study.get_trials()
    assert "reference" not in t.user_attrs and "warm_start" not in t.user_attrs and t.params
    assert not study.get_trials(states=(TrialState.WAITING,))


class _CutsAll(ParetoPruner):
    def check(self, study, trial_number, params, curve, total_epochs, parent=None):
        return "cut by the test"


@pytest.mark.slow
def test_warm_starts_and_references_are_never_pruned(tiny_data) -> None:
    study = _memory_study()
    (lab, p), *_ = warm_starts(7000, SearchConfig.warm_plan)
    study.enqueue_trial(p, user_attrs={"warm_start": lab})
    study.enqueue_trial({}, user_attrs={"reference": "ref6016"})
    objective = Objective(budget=7000, epochs=1, seed=0, data=tiny_data, target=3,
                          pruner=_CutsAll())
    study.optimize(objective, n_trials=3)
    states = [t.state for t in sorted(study.get_trials(), key=lambda t: t.number)]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.PRUNED]
