"""End to end: `nas-mnist search` on a small subset of the real MNIST files, then a resume."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from search.cli import main
from space import Candidate, count_params

pytestmark = pytest.mark.slow  # one end-to-end search

BUDGET = 3000


def _search(mnist_root: Path, study_dir: Path, n_trials: int) -> subprocess.CompletedProcess:
    argv = [
        sys.executable,
        "-m",
        "search.cli",
        "search",
        "--budget",
        str(BUDGET),
        "--n-trials",
        str(n_trials),
        "--epochs",
        "1",
        "--train-subset",
        "400",
        "--val-size",
        "300",
        "--data-dir",
        str(mnist_root),
        "--study-dir",
        str(study_dir),
        "--device",
        "cpu",
        "--no-warm-start",
        "--no-references",
        "--quiet",
        "--jobs",
        "1",
    ]
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env)


def _table(out: str) -> list[str]:
    """The front table a command printed: the lines after its 'Pareto front of study' heading."""
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Pareto front of study"))
    return [ln for ln in lines[start + 1:] if ln.strip() and not ln.startswith("warning:")]


def test_search_then_resume(mnist_root: Path, tmp_path: Path, capsys):
    r = _search(mnist_root, tmp_path, 2)
    assert r.returncode == 0, r.stderr
    assert "resuming" not in r.stdout  # a new study
    db = tmp_path / f"b{BUDGET}.db"
    assert db.is_file()
    study = optuna.load_study(study_name=f"b{BUDGET}", storage=f"sqlite:///{db}")
    first = {t.number: t.values for t in study.get_trials(states=(TrialState.COMPLETE,))}
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 2

    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        a = t.user_attrs
        cand = Candidate.from_dict(a["config"])
        assert a["params"] == count_params(cand.net) == t.values[1] <= BUDGET
        assert len(a["val_acc"]) == 1 and a["val_acc"][0] == t.values[0]
        assert a["device"] == "cpu" and a["epochs"] == 1 and len(a["epoch_s"]) == 1
        assert {"torch", "optuna", "python"} <= set(a["versions"]) and "seed" in a
        assert a["weights_artifact"] and a["arch"]

    csv = tmp_path / f"b{BUDGET}" / "pareto.csv"
    df = pd.read_csv(csv)
    assert {"trial", "params", "val_acc", "epochs", "arch"} <= set(df.columns)
    assert set(df["trial"]) <= set(first) and len(df) >= 1
    assert "Pareto front" in r.stdout
    # search and pareto print one and the same table (pareto also names the picture it wrote)
    assert main(["pareto", "--study", f"b{BUDGET}", "--study-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert _table(out) == _table(r.stdout) and "lr" in _table(out)[0].split()
    assert out.splitlines()[0].endswith("pareto.csv, pareto.png, report.md")

    r = _search(mnist_root, tmp_path, 3)  # resume: same study, topped up to 3 finished trials
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == (f"resuming study 'b{BUDGET}': 2 of 3 trials finished "
                                        f"(sqlite:///{tmp_path / f'b{BUDGET}.db'}; outputs in "
                                        f"{tmp_path / f'b{BUDGET}'})")
    study = optuna.load_study(study_name=f"b{BUDGET}", storage=f"sqlite:///{db}")
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 3
    after = {t.number: t.values for t in study.get_trials(states=(TrialState.COMPLETE,))}
    assert all(after[n] == v for n, v in first.items())  # nothing finished was lost or changed

    r = _search(mnist_root, tmp_path, 3)  # already at target: no new trial
    assert r.returncode == 0, r.stderr
    assert len(optuna.load_study(study_name=f"b{BUDGET}", storage=f"sqlite:///{db}").trials) == 3
