"""`nas-mnist bench score DIR ...` (search.bench.score): earlier benches' studies scored as one."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import optuna
import pandas as pd
import pytest

from search.cli import main

T0 = dt.datetime(2026, 1, 1, 12, 0)


def _bench_run(folder: Path, name: str, points: list[tuple[float, float, float, int]],
               budget: int = 10_000) -> None:
    """A study `name` as `bench front` leaves it: trials (start, end minutes, acc %, params)."""
    folder.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=f"sqlite:///{folder / name}.db",
                                directions=["maximize", "minimize"])
    study.set_user_attr("settings", {"budget": budget, "epochs": 8, "val_size": 10_000,
                                     "train_subset": None})
    for start, end, acc, params in points:
        t = optuna.trial.create_trial(values=[acc, params])
        t.datetime_start = T0 + dt.timedelta(minutes=start)
        t.datetime_complete = T0 + dt.timedelta(minutes=end)
        study.add_trial(t)


def test_two_benches_scored_as_one_at_a_shorter_budget(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    first, added = tmp_path / "bench30", tmp_path / "seed1"
    # a 30-minute run: its trial done at minute 20 is past a 12-minute budget
    _bench_run(first, "a-s0", [(0, 1, 97.0, 1000), (1, 20, 99.0, 100)])
    _bench_run(first, "b-s0", [(0, 5, 95.0, 1000)])
    _bench_run(added, "a-s1", [(0, 2, 96.0, 1000)])
    _bench_run(added, "b-s1", [(0, 6, 95.0, 1000)])
    out = tmp_path / "scored"
    assert main(["bench", "score", str(first), str(added), "--minutes", "12",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "12 min per arm and seed" in text and "8 epochs" in text
    runs = pd.read_csv(out / "front_runs.csv")
    assert list(zip(runs["arm"], runs["seed"], strict=True)) == [
        ("a", 0), ("b", 0), ("a", 1), ("b", 1)]
    # HV = (acc - 90) x decades below 10,000: the 99 % net at minute 20 does not count
    assert list(runs["hv_log"]) == pytest.approx([7.0, 5.0, 6.0, 5.0])
    assert list(runs["complete"]) == [1, 1, 1, 1]
    curves = pd.read_csv(out / "front_curves.csv")
    assert set(curves["seed"]) == {0, 1} and (out / "front.png").stat().st_size > 10_000
    # b's final mean (5.0) was reached by a at minutes 1 and 2
    assert "1.50" in text and "2/2" in text
    assert not math.isnan(runs["best<=2k"].iloc[0])


@pytest.mark.parametrize("case, msg", [
    ("twice", "arm a seed 0 is in both"),
    ("other-budget", "ran with {'budget': 5000"),
    ("no-b", "need runs of two or more arms, not only a"),
    ("empty", "no bench studies"),
    ("out-is-input", "--out must not be one of the scored folders"),
])
def test_bad_score_folders_are_one_line(case: str, msg: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    _bench_run(one, "a-s0", [(0, 1, 97.0, 1000)])
    (two if case != "empty" else tmp_path / "unused").mkdir(parents=True)
    if case != "no-b":
        _bench_run(one, "b-s0", [(0, 1, 95.0, 1000)])
    if case == "twice":
        _bench_run(two, "a-s0", [(0, 1, 97.0, 1000)])
    if case == "other-budget":  # a bench at another budget: its HV is on another scale
        _bench_run(two, "a-s1", [(0, 1, 97.0, 1000)], budget=5000)
    dirs = [one] if case in ("no-b", "out-is-input") else [one, two]
    out = one if case == "out-is-input" else tmp_path / "out"
    assert main(["bench", "score", *map(str, dirs), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()  # nothing written
