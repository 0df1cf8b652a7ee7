"""Per-epoch validation accuracy as a trial's intermediate values, in multi-objective studies too.

``Trial.report`` raises in multi-objective studies (Optuna's pruners assume one objective), but the
storages keep intermediate values for any running trial. Written there, each trial's page in
optuna-dashboard and ``optuna.visualization.plot_intermediate_values`` show its learning curve.
Writing goes through the trial's own storage API, so every backend (SQLite, PostgreSQL, journal)
keeps them, and nothing of Optuna's pruning machinery sees them (our pruner reads the user attrs).
"""

from __future__ import annotations

import optuna

__all__ = ["record_epoch"]


def record_epoch(trial: optuna.Trial, epoch: int, val_acc_pct: float) -> None:
    """Store the validation accuracy (%) of ``epoch`` (1-based: the step) on the running trial."""
    trial.storage.set_trial_intermediate_value(trial._trial_id, epoch, float(val_acc_pct))
