"""Which trials the search queued (warm starts, reference nets) rather than its sampler drew.

``search.loop.run`` enqueues them with a ``warm_start`` or ``reference`` user attr; they train to
the end whatever they score. The pruner can leave them out of its rungs, and `bench front`'s
search lift compares the drawn trials with them.
"""

from __future__ import annotations

from optuna.trial import FrozenTrial

__all__ = ["is_start"]


def is_start(t: FrozenTrial) -> bool:
    """A warm start or a reference net: queued by the search, not drawn by its sampler."""
    return bool(t.user_attrs.get("warm_start") or t.user_attrs.get("reference"))
