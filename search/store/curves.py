"""Per-epoch validation accuracy as a completed trial's intermediate values (multi-objective too).

``Trial.report`` raises in multi-objective studies, but the storages keep intermediate values for
any running trial. Written there, each trial's page in optuna-dashboard and
``optuna.visualization.plot_intermediate_values`` show its learning curve.

Only trials about to complete get them, written once just before the objective returns. A PRUNED
trial with intermediate values breaks Optuna 5.0's TPE in multi-objective studies: it ranks pruned
trials by their last intermediate value with ``study.direction``, which raises "A single direction
cannot be retrieved from a multi-objective study" (``_get_pruned_trial_score``), and every later
trial would fail in sampling. Pruned trials' curves stay in their ``val_acc`` user attr (the
dashboard's learning-curve figure draws them from there).
"""

from __future__ import annotations

import optuna

__all__ = ["record_curve"]


def record_curve(trial: optuna.Trial, val_acc_pct: list[float]) -> None:
    """Store the validation accuracy (%) of each epoch (step = 1-based epoch) on the trial."""
    for epoch, acc in enumerate(val_acc_pct, start=1):
        trial.storage.set_trial_intermediate_value(trial._trial_id, epoch, float(acc))
