"""Per-epoch validation accuracy as a trial's intermediate values (multi-objective too).

``Trial.report`` raises in multi-objective studies, but the storages keep intermediate values for
any running trial. Written there, each trial's page in optuna-dashboard and
``optuna.visualization.plot_intermediate_values`` show its learning curve, completed and pruned
trials alike. They are written once, when training ends (before the trial is told its state).

Optuna 5.0's TPE cannot sample once a pruned trial of a multi-objective study has intermediate
values (it ranks it with ``study.direction``, which raises "A single direction cannot be
retrieved"); the study's TPE therefore sees pruned trials without them
(``search.store.samplers._CurvesHidden``). The ``val_acc`` user attr keeps the curve as well.
"""

from __future__ import annotations

import optuna

__all__ = ["record_curve"]


def record_curve(trial: optuna.Trial, val_acc_pct: list[float]) -> None:
    """Store the validation accuracy (%) of each epoch (step = 1-based epoch) on the trial."""
    for epoch, acc in enumerate(val_acc_pct, start=1):
        trial.storage.set_trial_intermediate_value(trial._trial_id, epoch, float(acc))
