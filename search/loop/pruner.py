"""A Pareto-aware early-epoch pruner for the (val accuracy up, params down) study.

Why our own: Optuna's pruners need ``Trial.report``/``should_prune``, which raise
NotImplementedError in multi-objective studies; and a median/percentile rule ignores size, so it
would prune every small net, although small nets are exactly what fills the low end of the front.
Rule: at epoch e (min_epoch <= e < last), stop a trial if at least ``n_dominators`` other trials
with no more parameters had a higher validation accuracy (by ``margin`` pp) at the same epoch. Such
a trial is unlikely to end on the front: smaller nets already do better at that point of training.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

__all__ = ["Curve", "ParetoPruner"]

Curve = tuple[int, list[float]]  # (params, val accuracy % per epoch so far)


@dataclass(frozen=True)
class ParetoPruner:
    min_epoch: int = 3  # epochs (1-based) always trained before a trial may be pruned
    warmup_trials: int = 8  # finished trials (complete or pruned) before any pruning
    n_dominators: int = 3  # smaller-or-equal trials that must beat this one at the same epoch
    margin: float = 0.0  # accuracy points (pp) by which they must beat it

    def decide(
        self, params: int, curve: list[float], total_epochs: int, others: Iterable[Curve],
        n_finished: int,
    ) -> str | None:
        """Reason to prune a trial of `params` whose curve is `curve` so far, or None."""
        e = len(curve)
        if e < self.min_epoch or e >= total_epochs or n_finished < self.warmup_trials:
            return None
        acc = curve[-1]
        beaten = [
            (p, c[e - 1]) for p, c in others if p <= params and len(c) >= e
            and c[e - 1] > acc + self.margin
        ]
        if len(beaten) < self.n_dominators:
            return None
        return (
            f"epoch {e}: val acc {acc:.2f}% beaten by {len(beaten)} trials with <= {params} params"
            f" (best {max(a for _, a in beaten):.2f}%)"
        )

    def check(self, study: optuna.Study, trial_number: int, params: int, curve: list[float],
              total_epochs: int) -> str | None:
        """Apply `decide` against the study's other trials of the same epoch budget."""
        if len(curve) < self.min_epoch or len(curve) >= total_epochs:
            return None  # skip the storage round trip outside the pruning window
        trials = study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        )
        n_finished = sum(t.state != TrialState.RUNNING for t in trials)
        others = [
            (t.user_attrs["params"], t.user_attrs["val_acc"]) for t in trials
            if t.number != trial_number and t.user_attrs.get("epochs") == total_epochs
            and "val_acc" in t.user_attrs and "params" in t.user_attrs
        ]
        return self.decide(params, curve, total_epochs, others, n_finished)
