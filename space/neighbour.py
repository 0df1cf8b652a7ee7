"""Local moves in the search space: a complete draw a couple of steps away from a given one.

``neighbour(params, rng)`` replays ``suggest`` against a trial that answers from `params` but
moves a few of the values it is asked for: a float by a normal step of MOVE_SD of its range (on
the log scale where it is drawn log-uniform), clipped to its bounds; an int by one; a categorical
to another choice. A move that switches a branch (another optimizer, head, stage count) draws the
values the new branch asks for uniformly. The result is what ``suggest`` returns, so it decodes
like any draw, and within the budget by construction. The search (search.loop.neighbours) runs
such moves from front members; Optuna has no local sampler for define-by-run spaces.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection
from typing import Any

from space.sampler import suggest
from space.warmstart import _Draw

__all__ = ["MOVE_SD", "neighbour"]

MOVE_SD = 0.15  # a float's step: normal, this fraction of its (log-)range as standard deviation


class _Mover(_Draw):
    """Answers ``suggest`` from `params` as warm starts and transfers replay a stored draw (keys the
    space gained since get what the draw was decoded with), moving the names in `moving`."""

    def __init__(self, params: dict[str, Any], moving: Collection[str], rng: random.Random):
        super().__init__(params)
        self.moving, self.rng = moving, rng

    def _old(self, name: str) -> Any:
        try:
            return self._get(name)
        except KeyError:  # a branch the parent did not take
            return None

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        old = self._old(name)
        f, g = (math.log, math.exp) if log else (float, float)
        if old is None:  # a branch the parent did not take
            return g(self.rng.uniform(f(low), f(high)))
        if name not in self.moving:
            return old
        step = self.rng.gauss(0.0, MOVE_SD * (f(high) - f(low)))
        return min(high, max(low, g(f(old) + step)))

    def suggest_int(self, name: str, low: int, high: int) -> int:
        old = self._old(name)
        if old is None:
            return self.rng.randint(low, high)
        if name not in self.moving or low == high:
            return old
        ways = [v for v in (old - 1, old + 1) if low <= v <= high]
        return self.rng.choice(ways)

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        old = self._old(name)
        if old is None or old not in choices:
            return self.rng.choice(list(choices))
        if name not in self.moving or len(choices) < 2:
            return old
        return self.rng.choice([c for c in choices if c != old])


def neighbour(params: dict[str, Any], rng: random.Random, moves: int = 2,
              keys: Collection[str] | None = None) -> dict[str, Any]:
    """A complete draw that moves `moves` of `params`' values (only among `keys` if given), chosen
    uniformly; every other value is kept. `params` is a complete draw (e.g. a trial's params).
    A move that lands where it began (a float clipped at its bound) is drawn again (a few times)."""
    movable = sorted(k for k in suggest(_Mover(params, (), rng))
                     if keys is None or k in keys)
    for _ in range(8):
        moving = set(rng.sample(movable, min(moves, len(movable))))
        out = suggest(_Mover(params, moving, rng))
        if out != params:
            break
    return out
