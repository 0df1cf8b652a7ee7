"""`nas-mnist bench shapes`: how well a warm-start shape trains at a few sizes, the numbers behind
the search's warm-start plan (search.config.SearchConfig.warm_plan).

Each size is the shape of ``space.warmstart.SHAPES`` re-widthed as a warm start is (the widest
version with at most that many params, under the budget), trained with ``FAST_RECIPE`` or with
overrides of any sampler draw (e.g. ``rotate=0``, ``lr_sgd=0.05``), one thread; one row per size
with the validation accuracy (%) after every epoch. Run two copies side by side to use two cores.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from search.errors import UserError

__all__ = ["run_shapes", "train_shape"]


def train_shape(shape: str, target: int, *, budget: int, epochs: int, data: Any,
                overrides: dict[str, Any] | None = None, seed: int = 0) -> dict[str, Any]:
    """Train warm-start `shape` at <= `target` params; its curve and wall time."""
    import torch

    from search.training.train import train
    from space import build, count_params, decode, describe, size_for
    from space.warmstart import FAST_RECIPE, SHAPES

    p = {**SHAPES[shape], **FAST_RECIPE, **(overrides or {})}
    p["size"] = size_for(p, budget, target)
    cand = decode(p, budget, epochs)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    hist = train(build(cand.net), cand.train, data, seed=seed)
    return {"shape": shape, "target": target, **(overrides or {}),
            "params": count_params(cand.net), "arch": describe(cand.net),
            "val_acc": [round(100 * a, 2) for a in hist.val_acc],
            "seconds": round(time.perf_counter() - t0, 1)}


def run_shapes(shape: str, sizes: Sequence[int], *, budget: int, epochs: int,
               data_dir: str | None, val_size: int, train_subset: int | None,
               overrides: dict[str, Any], seed: int) -> Iterator[dict[str, Any]]:
    """`shape` trained at each of `sizes` on one thread, a row per size as it finishes."""
    import torch

    from search.training.data import load_mnist
    from space.warmstart import SHAPES

    if shape not in SHAPES:
        raise UserError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    torch.set_num_threads(1)
    data = load_mnist(data_dir, val_size=val_size, subset=train_subset)
    for target in sizes:
        yield train_shape(shape, target, budget=budget, epochs=epochs, data=data,
                          overrides=overrides, seed=seed)
