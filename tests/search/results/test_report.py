"""report.md and the attrs written on finished trials (no training here: scores are planted)."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from search.cli import main
from search.errors import UserError
from search.results.pareto import front_trials
from search.results.report import PROTOCOL, REPORTED_LABEL, report_markdown
from search.store.annotate import reload, set_finished_attrs
from search.store.study import StudyPaths
from space import REFERENCES, REPORTED, count_params


def _load(study_dir: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir / f'{name}.db'}")


def _table(md: str) -> list[str]:
    """The front's table (the first one; the references' verdicts follow it)."""
    front = md.split("## Against the references")[0]
    return [ln for ln in front.splitlines() if ln.startswith("|")]


def _cells(line: str) -> list[str]:
    # split on the '|' that are not escaped as '\|'
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def test_report_before_evaluation(finished_study) -> None:
    study_dir, name = finished_study
    study = _load(study_dir, name)
    md = report_markdown(study)
    trials = study.get_trials()
    n = {s: sum(t.state == s for t in trials) for s in TrialState}
    front = front_trials(study)
    assert f"# Study `{name}`" in md and "budget: 7,000 parameters" in md
    assert (f"trials: {len(trials)} ({n[TrialState.COMPLETE]} complete, "
            f"{n[TrialState.PRUNED]} pruned, {n[TrialState.FAIL]} failed)") in md
    assert f"{len(front)} on the front" in md and PROTOCOL in md
    assert "not evaluated yet" in md
    assert "first 1,000" in md and "500 images held out" in md

    rows = _table(md)
    on_front = {t.number for t in front}
    off = [t for t in trials if t.state == TrialState.COMPLETE
           and t.user_attrs.get("reference") and t.number not in on_front]
    # header, rule, front, reference trials that fell off the front, reported references
    assert len(rows) == 2 + len(front) + len(off) + len(REFERENCES)
    for t in off:
        assert f"| trial {t.number} ({t.user_attrs['reference']}, reference, off the front) |" in md
    assert all(len(_cells(r)) == 7 for r in rows)  # the arch's '|' are escaped, not new cells
    body = [_cells(r) for r in rows[2:]]
    sizes = [int(c[1].replace(",", "")) for c in body]
    assert sizes == sorted(sizes)  # one table ordered by size: neighbours side by side
    for ref, cand in REFERENCES.items():
        (row,) = [c for c in body if c[0].startswith(f"{ref} (")]
        assert REPORTED_LABEL in row[0] and row[3] == f"{REPORTED[ref]:.2f}"
        assert ("above budget" in row[0]) == (count_params(cand.net) > 7000)
    for t in front:
        (row,) = [c for c in body if c[0].startswith(f"trial {t.number}")]
        assert row[2] == f"{t.values[0]:.2f}" and row[3] == "-" and row[4] == "-"
        assert row[6].replace("\\|", "|") == t.user_attrs["arch"]  # escaped, else unchanged
        if t.user_attrs.get("reference"):
            assert t.user_attrs["reference"] in row[0]


@pytest.mark.slow
def test_planted_scores_reach_report_and_csv(study_copy) -> None:
    study_dir, name = study_copy
    study = _load(study_dir, name)
    front = front_trials(study)
    numbers = [t.number for t in front]
    # Optuna itself refuses to touch a finished trial: why search.store.annotate exists
    with pytest.raises(RuntimeError):
        study._storage.set_trial_user_attr(front[0]._trial_id, "test_acc", 1.0)
    for i, t in enumerate(front):
        set_finished_attrs(study, t, {
            "test_acc": 90.0 + i, "test_mean": 91.25 + i, "test_sd": 0.125,
            "test_seeds": [1000, 1001], "test_runs": [91.125 + i, 91.375 + i],
            "test_epochs": 2, "test_train_images": 60000,
        })
    fresh = reload(study)
    assert [t.number for t in front_trials(fresh)] == numbers  # the front did not move
    assert [t.values for t in front_trials(fresh)] == [t.values for t in front]
    assert front_trials(fresh)[0].user_attrs["test_mean"] == 91.25

    assert main(["pareto", "--study", name, "--study-dir", str(study_dir)]) == 0
    paths = StudyPaths(study_dir / name)
    md = paths.report_md.read_text()
    assert "not evaluated yet" not in md and "seeds 1000, 1001 on 60,000 training images" in md
    for i, t in enumerate(front):
        (row,) = [_cells(r) for r in _table(md) if r.startswith(f"| trial {t.number}")]
        assert row[3] == f"{90 + i:.2f}" and row[4] == f"{91.25 + i:.2f} ± 0.12 (n=2)"
    df = pd.read_csv(paths.pareto_csv)
    assert list(df["trial"]) == numbers
    assert list(df["test_acc"]) == [90.0 + i for i in range(len(front))]
    assert {"test_mean", "test_sd", "test_seeds"} <= set(df.columns)
    assert not list(paths.root.glob("*.tmp"))  # written through a temp file, renamed


def test_annotate_refuses_journal_storage(tmp_path: Path) -> None:
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(tmp_path / "j.log")))
    study = optuna.create_study(study_name="j", storage=storage, directions=["maximize"])
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    with pytest.raises(UserError, match="JournalStorage"):
        set_finished_attrs(study, study.trials[0], {"test_acc": 1.0})
