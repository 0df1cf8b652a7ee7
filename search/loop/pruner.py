"""Pareto-aware asynchronous successive halving over epochs (in the spirit of MOASHA).

Why our own: Optuna's pruners need ``Trial.report``/``should_prune``, which raise
NotImplementedError in multi-objective studies (RFC optuna#3450 is still open), and its
SuccessiveHalvingPruner ranks one objective only: it would prune every small net, although small
nets are what fills the low end of the front. Syne Tune's MOASHA has this rule but is a scheduler
of its own, not an Optuna pruner.

Rule: rungs sit at epochs ``min_epoch * eta**k`` below the trial's last epoch (1, 3, 9 of 15 with
the defaults). A trial that reaches a rung goes on if it is on the rung's own Pareto front
(nothing that reached the rung is both as small and more accurate), or if it is in the top
``1/eta`` of all trials that reached that rung so far (itself included, pruned ones too), ranked by
non-dominated sorting of (validation accuracy at the rung up, params down) and, within one front,
by crowding distance in log10 params x accuracy (NSGA-II's), so the cut keeps nets of every size.
The front is always kept because the search's product is a front over sizes: in a first CPU run a
plain top-1/eta cut pruned a 1.4k-param net that was the rung's smallest front member (its only
fault: a 9.4k net was more accurate). With ``among="draws"`` the warm starts and references,
which are never pruned, are left out of every rung: they would fill its top 1/eta themselves
(full3-b20000: 8 warm starts at 91-98 % after one epoch of batch 32; 23 of TPE's 27 draws
pruned at epoch 1), and a draw is judged against the draws. ``among="mixed"`` keeps the front
of all trials but fills the top 1/eta from the draws (from all trials while a draw is alone at the
rung): a draw behind a warm start may go on if it leads the draws, and the first draw is not
waved through for want of company. Asynchronous, as ASHA: each trial
is judged against what the shared storage holds when it gets there, so it works with ``--jobs``
and PostgreSQL workers.

A neighbour (search.loop.neighbours: a front member with two values moved) also goes on while
its accuracy at the rung is within NEAR_PARENT pp of its parent's at that epoch: ranked among
all, a neighbour about as good as its parent is dominated by it whenever the seed puts it a
little behind, and early epochs at OneCycle's peak rate are that noisy (cpu30nb-b10000: 8 of 10
neighbours cut at epochs 1 and 3, three within 1 pp of their parent; a warm start's own curve went
96.8, 97.5, 96.2 % over epochs 1-3).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from search.config import SearchConfig
from search.store.queued import is_start

__all__ = ["NEAR_PARENT", "Curve", "ParetoPruner", "rank"]

Curve = tuple[int, list[float]]  # (params, val accuracy % per epoch so far)
NEAR_PARENT = 1.0  # pp: a neighbour this close to its parent at a rung goes on


def _fronts(points: Sequence[tuple[float, int]]) -> list[list[int]]:
    """Indices of `points` (accuracy up, params down) by non-dominated front, best front first.
    Hand-written (O(n^2) per front, n = trials at a rung): Optuna's version is private."""
    def dominates(a: tuple[float, int], b: tuple[float, int]) -> bool:
        return a[0] >= b[0] and a[1] <= b[1] and a != b

    left, fronts = list(range(len(points))), []
    while left:
        front = [i for i in left if not any(dominates(points[j], points[i]) for j in left)]
        fronts.append(front)
        left = [i for i in left if i not in front]
    return fronts


def _crowding(points: Sequence[tuple[float, int]], front: list[int]) -> dict[int, float]:
    """NSGA-II crowding distance of each member of `front` in (accuracy, log10 params)."""
    dist = {i: 0.0 for i in front}
    for key in (lambda i: points[i][0], lambda i: math.log10(max(1, points[i][1]))):
        order = sorted(front, key=key)
        span = key(order[-1]) - key(order[0])
        dist[order[0]] = dist[order[-1]] = math.inf
        for a, b, c in zip(order, order[1:], order[2:], strict=False):
            if span > 0:
                dist[b] += (key(c) - key(a)) / span
    return dist


def rank(points: Sequence[tuple[float, int]]) -> list[int]:
    """Indices of (accuracy, params) points, best first: non-dominated front, then crowding
    (larger first), then higher accuracy, then index (earlier first) for a stable order."""
    out = []
    for front in _fronts(points):
        crowd = _crowding(points, front)
        out += sorted(front, key=lambda i: (-crowd[i], -points[i][0], i))
    return out


@dataclass(frozen=True)
class ParetoPruner:
    eta: int = SearchConfig.prune_eta  # a rung keeps the top 1/eta of the trials that reached it
    min_epoch: int = SearchConfig.prune_first_epoch  # epoch (1-based) of the first rung
    min_at_rung: int = SearchConfig.prune_min_at_rung  # trials at a rung before it cuts
    enabled: bool = SearchConfig.prune  # False: never prune (search --no-prune)
    among: str = SearchConfig.prune_among  # one of PRUNE_AMONG: "all", "draws" or "mixed"

    @classmethod
    def of(cls, c: SearchConfig) -> ParetoPruner:
        return cls(eta=c.prune_eta, min_epoch=c.prune_first_epoch,
                   min_at_rung=c.prune_min_at_rung, enabled=c.prune, among=c.prune_among)

    def rungs(self, total_epochs: int) -> list[int]:
        """Rung epochs for trials of `total_epochs`: min_epoch * eta**k, below the last epoch."""
        out, e = [], self.min_epoch
        while e < total_epochs:
            out.append(e)
            e *= self.eta
        return out

    def decide(self, params: int, curve: list[float], total_epochs: int,
               others: Iterable[Curve], quota: Iterable[Curve] | None = None) -> str | None:
        """Reason to prune a trial of `params` whose curve is `curve` so far, or None. It goes on
        if on the front of `others` at the rung, or in the top 1/eta of `quota` (default:
        `others`)."""
        e = len(curve)
        if not self.enabled or e not in self.rungs(total_epochs):
            return None

        def at_rung(curves: Iterable[Curve]) -> list[tuple[float, int]]:
            pool = [(c[e - 1], p) for p, c in curves if len(c) >= e and math.isfinite(c[e - 1])]
            return pool + [(curve[-1], params)]  # this trial is the last point

        pool = at_rung(others)
        if len(pool) < self.min_at_rung:
            return None
        if len(pool) - 1 in _fronts(pool)[0]:
            return None  # on the rung's Pareto front
        ranked = pool if quota is None else at_rung(quota)
        keep = math.ceil(len(ranked) / self.eta)
        pos = rank(ranked).index(len(ranked) - 1)
        if pos < keep:
            return None
        return (f"rung epoch {e}: val acc {curve[-1]:.2f}% at {params} params dominated, ranked "
                f"{pos + 1} of {len(ranked)} trials at this rung (top {keep} go on)")

    def check(self, study: optuna.Study, trial_number: int, params: int, curve: list[float],
              total_epochs: int, parent: int | None = None) -> str | None:
        """Apply `decide` against the study's other trials of the same epoch budget; a neighbour
        of trial `parent` also goes on while within NEAR_PARENT pp of the parent's curve."""
        if not self.enabled or len(curve) not in self.rungs(total_epochs):
            return None  # skip the storage round trip between rungs
        trials = study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        )
        was = next((t.user_attrs.get("val_acc") or [] for t in trials if t.number == parent), [])
        if len(was) >= len(curve) and curve[-1] >= was[len(curve) - 1] - NEAR_PARENT:
            return None  # about as good as the front member it moved from
        others = [
            t for t in trials
            if t.number != trial_number and t.user_attrs.get("epochs") == total_epochs
            and "val_acc" in t.user_attrs and "params" in t.user_attrs
        ]
        every = [(t.user_attrs["params"], t.user_attrs["val_acc"]) for t in others]
        draws = [(t.user_attrs["params"], t.user_attrs["val_acc"]) for t in others
                 if not is_start(t)]
        if self.among == "draws":
            return self.decide(params, curve, total_epochs, draws)
        if self.among == "mixed":
            # Only a lone draw is ranked among all: few draws reach the late rungs, and a fallback
            # until min_at_rung draws would let the warm starts cut there (docs/benchmarks.md).
            alone = not any(len(c) >= len(curve) for _, c in draws)
            return self.decide(params, curve, total_epochs, every, None if alone else draws)
        return self.decide(params, curve, total_epochs, every)
