"""Local moves from the front: now and then a worker queues a neighbour of a front member
(space.neighbour) instead of asking the sampler for a draw.

Why: after the warm starts, TPE's draws rarely beat the starts above ~4k params within a
30-minute run (docs/benchmarks.md, "Search lift"); a couple of moved values (a width, the size,
the learning rate, the batch) from a member of the front explores where nets are already good.
A neighbour is a draw like any other: it is pruned like one, TPE learns from it, and it counts
as searched (not a start) in `bench front`'s lift. It carries ``neighbour_of`` (the parent's
number). Whether a worker queues one is drawn from (seed, trials so far), so a one-worker run
repeats; only once no start is waiting, and only with the TPE sampler (random search stays plain).
"""

from __future__ import annotations

import random

import optuna
from optuna.trial import TrialState

from search.config import SearchConfig
from search.results.pareto import front_trials
from search.store.study import FIXED_NET
from space import RECIPE_KEYS, neighbour

__all__ = ["NEIGHBOUR_OF", "queue_neighbour"]

NEIGHBOUR_OF = "neighbour_of"  # user attr: the number of the trial a neighbour moved from


def queue_neighbour(study: optuna.Study, a: SearchConfig) -> int | None:
    """With probability ``a.neighbours``, queue a neighbour of a front member drawn uniformly;
    returns the parent's number, or None when the sampler draws the next trial."""
    if a.neighbours <= 0 or a.sampler != "tpe":
        return None
    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.WAITING for t in trials):  # starts (or a neighbour) queued
        return None
    rng = random.Random(f"{a.seed}:{len(trials)}")
    if rng.random() >= a.neighbours:
        return None
    parents = [t for t in front_trials(study) if t.params]  # references have no draws
    if not parents:
        return None
    parent = rng.choice(parents)
    # with --net-from the net is fixed: only the recipe moves; with --recipe fast, only the net
    keys = RECIPE_KEYS if study.user_attrs.get(FIXED_NET) else None
    if a.recipe == "fast":
        keys = set(parent.params) - RECIPE_KEYS
    study.enqueue_trial(neighbour(parent.params, rng, keys=keys),
                        user_attrs={NEIGHBOUR_OF: parent.number})
    return parent.number
