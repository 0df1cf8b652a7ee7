"""Put a study's results where optuna-dashboard shows them: two figures and markdown notes.

- figures (``optuna_dashboard.save_plotly_graph_object``, fixed ids so a refresh overwrites them):
  all learning curves, and the front with test scores and references (search.results.figures);
- the study's note: the report (search.results.report) plus the commands to export or retrain;
- each completed trial's note: architecture, params, val/test numbers, whether it is on the front,
  and its export/retrain commands (a trial that leaves the front gets a note saying so).

Notes are versioned system attrs of the study. A note is (re)written only when its text changed and
it is empty or was written here (it starts with our heading), so notes typed in the dashboard by a
user are never overwritten. Trial notes go through optuna-dashboard's versioned writer, because its
public ``save_note`` wants a live ``optuna.Trial``, and building one calls the sampler's
``before_trial`` (which reseeds ours).
"""

from __future__ import annotations

import optuna
from optuna.trial import TrialState
from optuna_dashboard import save_plotly_graph_object
from optuna_dashboard._note import get_note_from_system_attrs, save_note_with_version

from search.results.figures import front_figure, learning_curves
from search.results.pareto import front_trials
from search.results.report import report_markdown
from search.store.study import StudyPaths

__all__ = ["CURVES_ID", "FRONT_ID", "TRIAL_HEADING", "publish", "study_note", "trial_note"]

CURVES_ID, FRONT_ID = "nas-mnist-curves", "nas-mnist-front"
TRIAL_HEADING = "### nas-mnist: trial"  # marks a trial note as ours (safe to overwrite)


def _study_args(study: optuna.Study, paths: StudyPaths | None) -> str:
    args = f"--study {study.study_name}"
    if paths is not None and paths.root.parent.as_posix() != "studies":
        args += f" --study-dir {paths.root.parent}"
    return args


def _ours(body: str, heading: str) -> bool:
    return not body.strip() or body.startswith(heading)


def study_note(study: optuna.Study, paths: StudyPaths | None = None) -> str:
    """The report, then how to get a member out of the study."""
    a = _study_args(study, paths)
    return report_markdown(study) + "\n".join([
        "",
        "## Commands",
        "",
        f"- export a member as a standalone PyTorch script + weights: "
        f"`nas-mnist export {a} --trial N`",
        f"- retrain it with its own recipe and seed: `nas-mnist train {a} --trial N`",
        f"- score the front on the test set (fills the test columns): "
        f"`nas-mnist pareto {a} --evaluate`",
        "",
    ])


def trial_note(study: optuna.Study, t: optuna.trial.FrozenTrial, on_front: bool,
               paths: StudyPaths | None = None) -> str:
    a, u = _study_args(study, paths), t.user_attrs
    lines = [
        f"{TRIAL_HEADING} {t.number}" + (f" (reference {u['reference']})" if "reference" in u
                                         else ""),
        "",
        f"- Pareto front: {'yes' if on_front else 'no'}",
        f"- architecture: `{u.get('arch', '?')}`",
        f"- params: {int(t.values[1]):,}",
        f"- validation accuracy: {t.values[0]:.2f} % after {len(u.get('val_acc', []))} epochs",
    ]
    if u.get("test_acc") is not None:
        lines.append(f"- test accuracy, stored weights: {u['test_acc']:.2f} %")
    if u.get("test_mean") is not None:
        sd = f" ± {u['test_sd']:.2f}" if u.get("test_sd") is not None else ""
        lines.append(f"- test accuracy, retrained from seeds {u.get('test_seeds')}: "
                     f"{u['test_mean']:.2f}{sd} %")
    lines += ["", f"`nas-mnist export {a} --trial {t.number}`", "",
              f"`nas-mnist train {a} --trial {t.number}`", ""]
    return "\n".join(lines)


def _save(study: optuna.Study, attrs: dict, trial_id: int | None, body: str, heading: str) -> None:
    old = get_note_from_system_attrs(attrs, trial_id)
    if old["body"] != body and _ours(old["body"], heading):
        save_note_with_version(study._storage, study._study_id, trial_id, old["version"] + 1,
                               body)


def publish(study: optuna.Study, paths: StudyPaths | None = None) -> None:
    """Write (or refresh) the study's figures and notes; cheap when nothing changed."""
    save_plotly_graph_object(study, learning_curves(study), graph_object_id=CURVES_ID)
    save_plotly_graph_object(study, front_figure(study), graph_object_id=FRONT_ID)
    attrs = study._storage.get_study_system_attrs(study._study_id)
    _save(study, attrs, None, study_note(study, paths), f"# Study `{study.study_name}`")
    on_front = {t.number for t in front_trials(study)}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        _save(study, attrs, t._trial_id, trial_note(study, t, t.number in on_front, paths),
              TRIAL_HEADING)
