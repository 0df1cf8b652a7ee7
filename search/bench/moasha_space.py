"""Our search space as a Syne Tune config space, and a Syne Tune config back as our draws.

The translation lives here because the two sides see a space differently. ``space.suggest`` draws
conditionally (the number of stages decides which ``convs<s>`` exist, the optimizer which learning
rate key, the head whether ``hidden_ratio`` is drawn), while MOASHA samples a flat config space:
one domain per key, every key in every config. So the config space is the union of every key any
draw can ask for, each with the domain ``suggest`` gives it (:func:`union`); :func:`drawn` replays
``suggest`` against a config to keep exactly the keys that draw uses, as Optuna params with their
distributions. ``space.decode`` reads no other key, so an unused key changes nothing: every net
fits the budget by construction, and MOASHA's random configurations are distributed as our
random search's draws (each key uniform, or log-uniform, over the same range).

No syne_tune import at module level: only :func:`config_space` needs it (the ``peers`` extra).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from search.errors import UserError
from space import suggest

__all__ = ["MISSING", "config_space", "drawn", "plain", "require_syne_tune", "union"]

MISSING = "syne-tune is not installed: pip install -e '.[peers]'"
_PACKAGE = "syne_tune"  # the peers extra's import name


def require_syne_tune() -> None:
    """Refuse in one line where the optional ``peers`` extra is not installed."""
    if importlib.util.find_spec(_PACKAGE) is None:
        raise UserError(MISSING)


def plain(v: Any) -> Any:
    """A Python bool / int / float / str for a value Syne Tune may hand over as a numpy scalar
    (Optuna's user attrs are JSON, which refuses numpy integers)."""
    return v.item() if hasattr(v, "item") else v


@dataclass
class _Top:
    """A TrialLike answering every number at the top of its range (the most stages and convs, so
    every key behind them is asked for) and every categorical with its last choice, except
    ``pick`` = (name, choice); it notes each key's distribution."""

    pick: tuple[str, Any] | None = None
    seen: dict[str, BaseDistribution] = field(default_factory=dict)

    def suggest_int(self, name: str, low: int, high: int) -> int:
        self.seen[name] = IntDistribution(low, high)
        return high

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        self.seen[name] = FloatDistribution(low, high, log=log)
        return high

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self.seen[name] = CategoricalDistribution(list(choices))
        return self.pick[1] if self.pick and self.pick[0] == name else list(choices)[-1]


def union() -> dict[str, BaseDistribution]:
    """Every key a draw of ``space.suggest`` can ask for, with its distribution: the draw at the
    top of every range, once with each choice of each categorical in turn (the optimizer picks its
    own learning-rate keys, a transition opens ``trans_ratio``, ...). A key asked with two
    different domains would make the flat space ambiguous: refused."""
    first = _Top()
    suggest(first)
    out = dict(first.seen)
    for name, dist in first.seen.items():
        for choice in getattr(dist, "choices", ()):
            top = _Top(pick=(name, choice))
            suggest(top)
            for k, d in top.seen.items():
                if out.setdefault(k, d) != d:
                    raise ValueError(f"{k} is drawn from {out[k]} and from {d}")
    return out


@dataclass
class _Replay:
    """A TrialLike answering from a Syne Tune config; notes the distribution of each key asked."""

    config: dict[str, Any]
    seen: dict[str, BaseDistribution] = field(default_factory=dict)

    def _get(self, name: str, dist: BaseDistribution) -> Any:
        self.seen[name] = dist
        return plain(self.config[name])

    def suggest_int(self, name: str, low: int, high: int) -> int:
        return int(self._get(name, IntDistribution(low, high)))

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return float(self._get(name, FloatDistribution(low, high, log=log)))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._get(name, CategoricalDistribution(list(choices)))


def drawn(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, BaseDistribution]]:
    """The draws of ``space.suggest`` a Syne Tune config stands for (exactly the keys that draw
    asks for, as ``trial.params`` holds them in our studies) and their Optuna distributions."""
    replay = _Replay(config)
    params = suggest(replay)
    return params, {k: replay.seen[k] for k in params}


def config_space(constants: dict[str, Any]) -> dict[str, Any]:
    """The Syne Tune config space of :func:`union`, plus `constants` (settings every trial gets
    as they are: budget, epochs, data, device, threads)."""
    from syne_tune.config_space import choice, loguniform, randint, uniform

    out: dict[str, Any] = {}
    for k, d in union().items():
        if isinstance(d, IntDistribution):
            out[k] = randint(d.low, d.high)
        elif isinstance(d, FloatDistribution):
            out[k] = (loguniform if d.log else uniform)(d.low, d.high)
        else:
            out[k] = choice(list(d.choices))
    if clash := sorted(set(out) & set(constants)):
        raise ValueError(f"constants {clash} are keys of the search space")
    return {**out, **constants}
