"""The dashboard's figures and notes: written by `search`, refreshed after evaluation."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState
from optuna_dashboard import get_note, save_note

from search.results.figures import front_figure, learning_curves
from search.results.pareto import front_trials
from search.results.publish import CURVES_ID, FRONT_ID, TRIAL_HEADING, publish
from search.store.annotate import reload, set_finished_attrs
from search.store.study import StudyPaths


def _open(study_dir, name) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir / f'{name}.db'}")


def _trial_note(study: optuna.Study, t: optuna.trial.FrozenTrial) -> str:
    from optuna_dashboard._note import get_note_from_system_attrs

    attrs = study._storage.get_study_system_attrs(study._study_id)
    return get_note_from_system_attrs(attrs, t._trial_id)["body"]


def test_search_stores_curves_figures_and_notes(finished_study):
    study = _open(*finished_study)
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert any(t.state == TrialState.PRUNED for t in finished)
    for t in finished:  # completed and pruned: each epoch's val acc as intermediate values
        iv = t.intermediate_values
        assert [iv[k] for k in sorted(iv)] == t.user_attrs["val_acc"] and min(iv) == 1
    keys = study._storage.get_study_system_attrs(study._study_id)
    for gid in (CURVES_ID, FRONT_ID):
        assert f"dashboard:plot_data:{gid}:0" in keys
    note = get_note(study)
    assert note.startswith(f"# Study `{study.study_name}`: Pareto front")
    assert "ref6016 (reported, best epoch picked on test" in note  # beside the references
    assert f"nas-mnist export --study {study.study_name}" in note
    front = {t.number for t in front_trials(study)}
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        body = _trial_note(study, t)
        assert body.startswith(f"{TRIAL_HEADING} {t.number}") and t.user_attrs["arch"] in body
        assert f"Pareto front: {'yes' if t.number in front else 'no'}" in body
        assert f"--trial {t.number}" in body


def test_learning_curves_figure(finished_study):
    study = _open(*finished_study)
    fig = learning_curves(study)
    lines = [tr for tr in fig.data if tr.x and tr.x[0] is not None]
    n = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.trials)
    assert len(lines) == n
    assert fig.data[-1].marker.showscale  # the size colour bar


def test_refresh_after_evaluation_and_user_notes_kept(study_copy):
    study_dir, name = study_copy
    study = _open(study_dir, name)
    paths = StudyPaths(study_dir / name)
    front = front_trials(study)
    for i, t in enumerate(front):  # as `pareto --evaluate` stores them (evaluate.py)
        set_finished_attrs(study, t, {"test_acc": 97.5 + i, "test_mean": 97.25 + i,
                                      "test_sd": 0.125, "test_seeds": [1000, 1001]})
    study = reload(study)
    other = next((t for t in study.get_trials(states=(TrialState.COMPLETE,))
                  if t.number not in {f.number for f in front}), None)
    save_note(study, "my own words")  # typed in the dashboard: never overwritten
    publish(study, paths)
    assert get_note(study) == "my own words"
    body = _trial_note(study, front[0])
    assert "stored weights: 97.50 %" in body and "97.25 ± 0.12 %" in body
    assert f"--study-dir {study_dir}" in body  # commands work from anywhere
    fig = front_figure(study)
    bars = [tr for tr in fig.data if tr.error_y is not None and tr.error_y.array is not None]
    assert [list(b.error_y.array) for b in bars] == [[0.125] * len(front)]
    names = " ".join(tr.name for tr in fig.data)
    assert "references (reported test" in names
    ran = any(t.user_attrs.get("reference") for t in study.trials if t.values)
    assert ("references run in this study" in names) == ran
    ver = study._storage.get_study_system_attrs(study._study_id)
    publish(study, paths)  # nothing changed: no note rewritten
    assert study._storage.get_study_system_attrs(study._study_id) == ver
    if other is not None:
        assert "Pareto front: no" in _trial_note(study, other)
