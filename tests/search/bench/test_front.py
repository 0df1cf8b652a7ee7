"""`nas-mnist bench front` (search.bench.front): HV vs wall time, time to reach, end to end."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from search.bench.front import (
    ARMS,
    arm_args,
    hv_curve,
    run_stats,
    summarize,
    time_to_reach,
)
from search.bench.plans import QUICK, FrontPlan
from search.cli import main
from search.config import SearchConfig

T0 = dt.datetime(2026, 1, 1, 12, 0)


def _trial(start: float, end: float | None, acc: float | None = None, params: int | None = None,
           state: TrialState = TrialState.COMPLETE) -> optuna.trial.FrozenTrial:
    """A finished trial that started and ended ``start`` / ``end`` minutes after T0."""
    values = [acc, params] if state == TrialState.COMPLETE else None
    t = optuna.trial.create_trial(state=state, values=values)
    t.datetime_start = T0 + dt.timedelta(minutes=start)
    t.datetime_complete = None if end is None else T0 + dt.timedelta(minutes=end)
    return t


def _study(*trials: optuna.trial.FrozenTrial) -> list[optuna.trial.FrozenTrial]:
    """The trials as an in-memory study stores and hands them back."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize", "minimize"])
    for t in trials:
        study.add_trial(t)
    return study.get_trials(deepcopy=False)


def test_hv_curve_steps_at_each_completion_from_the_first_start() -> None:
    trials = _study(
        _trial(1, 3, 95.0, 100),  # the study's first start: minute 1 is time 0
        _trial(2, 5, 97.0, 1000),
        _trial(3, 4, state=TrialState.PRUNED),  # no point, no step
        _trial(4, 6, 96.0, 5000),  # dominated by (97, 1000): adds nothing
    )
    c = hv_curve(trials, budget=10_000, ref_acc=90.0)
    assert list(c["minutes"]) == pytest.approx([0, 2, 4, 5])
    # 95 % over 100..10,000 (2 decades) = 10; then 5 pp * 1 decade + 7 pp * 1 decade = 12
    assert list(c["hv_log"]) == pytest.approx([0, 10, 12, 12])
    assert list(c["trial"]) == [-1, 0, 1, 3]


def test_time_to_reach_is_the_first_crossing_or_nan() -> None:
    c = pd.DataFrame({"minutes": [0, 2, 4, 5], "hv_log": [0, 10, 12, 12]})
    assert time_to_reach(c, 11) == 4 and time_to_reach(c, 10) == 2 and time_to_reach(c, 0) == 0
    assert math.isnan(time_to_reach(c, 12.5))


def test_run_stats_count_only_trials_done_within_the_budget() -> None:
    plan = FrontPlan(minutes=5, budget=10_000, ref_acc=90.0)
    trials = _study(
        _trial(0, 1, 95.0, 1500),
        _trial(0, 2, state=TrialState.PRUNED),
        _trial(1, 4, 97.0, 4000),
        _trial(4, 7, 99.0, 9000),  # started in time, finished after the budget: not counted
    )
    row = run_stats(trials, hv_curve(trials, 10_000, 90.0), plan)
    assert (row["complete"], row["pruned"]) == (2, 1)
    assert row[">95%"] == 50.0  # of the two completed in time, only the 97 % one is above 95
    assert (row["best<=2k"], row["best<=5k"], row["best<=10k"]) == (95.0, 97.0, 97.0)
    hv = 5 * math.log10(4000 / 1500) + 7 * math.log10(10_000 / 4000)
    assert row["hv_log"] == pytest.approx(hv)


def test_search_lift_is_the_searched_trials_best_over_the_starts_best_per_cap() -> None:
    plan = FrontPlan(minutes=60, budget=10_000, ref_acc=90.0)
    warm = _trial(0, 1, 98.0, 1800)
    warm.set_user_attr("warm_start", "onepool@1.8k")
    ref = _trial(0, 2, 99.0, 6000)
    ref.set_user_attr("reference", "ref6016")
    trials = _study(warm, ref, _trial(1, 3, 98.5, 1900), _trial(1, 4, 98.8, 8000))
    row = run_stats(trials, hv_curve(trials, 10_000, 90.0), plan)
    assert row["lift<=2k"] == pytest.approx(0.5)  # 98.5 searched over 98.0 warm
    assert row["lift<=5k"] == pytest.approx(0.5)  # 98.5 searched over 98.0 warm again
    assert row["lift<=10k"] == pytest.approx(-0.2)  # the reference's 99.0 stays on top
    # a run without starts (random search, plain MOASHA) has no lift to report
    plain = run_stats(trials[2:], hv_curve(trials[2:], 10_000, 90.0), plan)
    assert all(math.isnan(plain[f"lift<={c}"]) for c in ("2k", "5k", "10k"))


def test_summary_gives_the_time_each_arm_needs_for_each_arms_final_mean() -> None:
    runs = pd.DataFrame({"arm": ["a", "b", "a", "b"], "seed": [0, 0, 1, 1],
                         "hv_log": [12.0, 8.0, 10.0, 6.0], "complete": [5, 9, 7, 11],
                         "pruned": [3, 0, 1, 0], ">95%": [100.0, 50.0, 80.0, 70.0],
                         "best<=2k": [98.0, 97.0, 98.5, 96.0]})
    curves = pd.DataFrame({  # b's final mean is 7: a seed 0 reaches it at 2, seed 1 at 3
        "arm": ["a"] * 3 + ["b"] * 2 + ["a"] * 3 + ["b"] * 2,
        "seed": [0] * 5 + [1] * 5,
        "minutes": [0, 2, 9, 0, 10, 0, 1, 3, 0, 10],
        "hv_log": [0, 7.5, 12, 0, 8, 0, 5, 10, 0, 6]})
    s = summarize(runs, curves).set_index("arm")
    assert s.loc["a", "hv_log mean"] == 11 and s.loc["b", "hv_log mean"] == 7
    assert s.loc["a", "hv_log sd"] == pytest.approx(math.sqrt(2))
    assert s.loc["a", "min to b's HV"] == 2.5 and s.loc["a", "reached b"] == "2/2"
    assert s.loc["b", "min to b's HV"] == 10 and s.loc["b", "reached b"] == "1/2"
    # a's final mean (11): a seed 0 reached it at 9, seed 1 never; b never
    assert s.loc["a", "min to a's HV"] == 9 and s.loc["a", "reached a"] == "1/2"
    assert math.isnan(s.loc["b", "min to a's HV"]) and s.loc["b", "reached a"] == "0/2"
    assert (s.loc["a", "complete"], s.loc["a", "pruned"], s.loc["b", "best<=2k"]) == (6, 2, 96.5)
    assert (s.loc["a", ">95%"], s.loc["b", ">95%"]) == (90.0, 60.0)
    # with a 9-minute budget, b seed 0's crossing at minute 10 is in its overrun: not counted
    s9 = summarize(runs, curves, minutes=9).set_index("arm")
    assert s9.loc["b", "reached b"] == "0/2" and math.isnan(s9.loc["b", "min to b's HV"])
    assert s9.loc["a", "min to b's HV"] == 2.5 and s9.loc["a", "reached b"] == "2/2"


def test_arm_a_keeps_the_search_defaults_and_arm_b_is_plain_random(tmp_path: Path) -> None:
    d = SearchConfig()
    a = arm_args("a", 3, QUICK, tmp_path)
    b = arm_args("b", 3, QUICK, tmp_path)
    keep = ("sampler", "prune", "warm_start", "references", "warm_plan", "startup_trials")
    assert [getattr(a, k) for k in keep] == [getattr(d, k) for k in keep]
    assert (b.sampler, b.prune, b.warm_start, b.references) == ("random", False, False, False)
    for x in (a, b):
        assert (x.seed, x.epochs, x.budget, x.timeout) == (3, QUICK.epochs, QUICK.budget,
                                                           QUICK.minutes * 60)
        assert x.train_subset == QUICK.train_subset and x.val_size == QUICK.val_size
    assert a.storage_url != b.storage_url  # a SQLite file each


def test_first_seed_runs_the_seeds_from_there(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    import search.bench.front as front

    ran = []

    def fake_search(a: SearchConfig, jobs: int) -> list[optuna.trial.FrozenTrial]:
        ran.append((a.study_name, a.seed))  # no training: one made-up trial per run
        return _study(_trial(0, 1, 95.0 + a.seed, 1000))

    monkeypatch.setattr(front, "_search", fake_search)
    out = tmp_path / "out"
    assert main(["bench", "front", "--first-seed", "3", "--seeds", "2", "--jobs", "1",
                 "--minutes", "5", "--device", "cpu", "--out", str(out)]) == 0
    assert ran == [("a-s3", 3), ("b-s3", 3), ("a-s4", 4), ("b-s4", 4)]  # interleaved from 3
    runs = pd.read_csv(out / "front_runs.csv")
    assert list(zip(runs["arm"], runs["seed"], strict=True)) == [
        ("a", 3), ("b", 3), ("a", 4), ("b", 4)]
    with pytest.raises(SystemExit) as e:  # argparse's own one-line usage error
        main(["bench", "front", "--first-seed", "-1"])
    assert e.value.code == 2


@pytest.mark.slow
def test_front_quick_end_to_end(mnist_root: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "front"
    assert main(["bench", "front", "--quick", "--device", "cpu", "--data-dir", str(mnist_root),
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "nas-mnist bench front: budget 2,000 params, 1 epochs" in text
    assert "min to b's HV" in text and ARMS["a"] in text and ARMS["b"] in text
    runs = pd.read_csv(out / "front_runs.csv")
    assert list(zip(runs["arm"], runs["seed"], strict=True)) == [
        ("a", 0), ("b", 0), ("a", 1), ("b", 1)]  # interleaved
    assert (runs["complete"] >= 1).all() and (runs["hv_log"] >= 0).all()
    assert (runs.loc[runs["arm"] == "b", "pruned"] == 0).all()  # b never prunes
    assert runs["best<=2k"].between(0, 100).all()
    curves = pd.read_csv(out / "front_curves.csv")
    assert list(curves.columns) == ["arm", "seed", "minutes", "trial", "params", "acc", "hv_log"]
    for _, g in curves.groupby(["arm", "seed"]):
        assert g["minutes"].is_monotonic_increasing and g["hv_log"].is_monotonic_increasing
        assert g["params"].dropna().le(2000).all()
    assert sorted(p.name for p in out.glob("*.db")) == ["a-s0.db", "a-s1.db", "b-s0.db",
                                                        "b-s1.db"]
    png = (out / "front.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    # the same folder again would resume those studies: refused in one line
    assert main(["bench", "front", "--quick", "--device", "cpu", "--data-dir", str(mnist_root),
                 "--out", str(out)]) == 2
    assert "already holds studies" in capsys.readouterr().err


def test_against_flags_are_ones_todays_search_parses(tmp_path: Path) -> None:
    import argparse

    from search.bench.against import search_flags
    from search.cli import search as search_cmd

    a = arm_args("b", 2, QUICK, tmp_path, data_dir=str(tmp_path / "mnist"), device="cpu")
    parser = argparse.ArgumentParser()
    search_cmd.add_parser(parser.add_subparsers())
    ns = parser.parse_args(["search", *search_flags(a, 3)])
    assert (ns.budget, ns.epochs, ns.seed, ns.timeout, ns.jobs) == (
        a.budget, a.epochs, 2, a.timeout, 3)
    assert (ns.study_name, ns.study_dir, ns.val_size, ns.train_subset, ns.device, ns.quiet) == (
        "b-s2", tmp_path.resolve(), a.val_size, a.train_subset, "cpu", True)
    assert ns.data_dir == str((tmp_path / "mnist").resolve())
    # the other revision keeps its own sampler, pruner and warm starts
    d = SearchConfig()
    assert (ns.sampler, ns.prune, ns.warm_start, ns.references) == (
        d.sampler, d.prune, d.warm_start, d.references)


def test_against_an_unknown_revision_is_one_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "front"
    assert main(["bench", "front", "--quick", "--against", "no-such-rev-xyz",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--against no-such-rev-xyz: no such commit" in err and err.count("\n") == 1
    assert not out.exists()  # nothing written


@pytest.mark.slow
def test_front_against_a_revision_runs_its_own_code(mnist_root: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    from search.bench.against import repo_root, resolve_rev

    if not (repo_root() / ".git").exists():
        pytest.skip("not a git checkout: --against needs one")
    before = subprocess.run(["git", "worktree", "list"], cwd=repo_root(), capture_output=True,
                            text=True).stdout
    out = tmp_path / "front"
    assert main(["bench", "front", "--quick", "--seeds", "1", "--against", "HEAD",
                 "--device", "cpu", "--data-dir", str(mnist_root), "--out", str(out)]) == 0
    cap = capsys.readouterr()
    assert f"default search of HEAD ({resolve_rev('HEAD')[:7]})" in cap.out
    assert "nas-mnist-against-" in cap.err  # arm b ran from the temporary worktree
    runs = pd.read_csv(out / "front_runs.csv")
    assert list(runs["arm"]) == ["a", "b"] and (runs["complete"] >= 1).all()
    b = optuna.load_study(study_name="b-s0", storage=f"sqlite:///{out / 'b-s0.db'}")
    assert b.trials and all(t.params for t in b.trials if t.state == TrialState.COMPLETE)
    after = subprocess.run(["git", "worktree", "list"], cwd=repo_root(), capture_output=True,
                           text=True).stdout
    # the worktree is gone (other worktrees of the checkout may come and go meanwhile)
    assert [ln for ln in after.splitlines() if "nas-mnist-against-" in ln] == [
        ln for ln in before.splitlines() if "nas-mnist-against-" in ln]
