"""Warm starts that fit any budget: proven shapes as points of the search space.

A new study begins with these (enqueued with their params, so the sampler learns from them):
a shape written as sampler draws (``SHAPES``: stages, convs, padding, transitions, relative widths,
plain or separable convs, head, BN, dropout), re-widthed by the sampler's own scale to a few sizes
between ~900 params and the budget, and trained with one fast recipe (``FAST_RECIPE``).
``SHAPES`` holds the hand-tuned nets' shapes (only ref10224's is exact: ``decode`` at its size
gives ``REFERENCES["ref10224"]``; the others are the nearest shapes the space has) and
``onepool``, a small-net shape found by a search. Which of them run, and from which size up, is
the search's choice: its ``plan`` (search.config.SearchConfig.warm_plan). ``transfer`` carries
a net an earlier study drew, with its own recipe, to another budget.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, ClassVar

from space.params import count_params
from space.sampler import decode, fitting_topology, size_for, smallest_budget, suggest

__all__ = ["FAST_RECIPE", "SHAPES", "label", "transfer", "warm_sizes", "warm_starts"]

# SGD + OneCycle at a high peak rate, light augmentation and label smoothing: ref10224's shape
# reached 99.24 % test in 8 epochs on CPU with it (issue 12), and it stays inside BOUNDS. Batch 32:
# +0.05 to +0.24 pp final val on onepool at 1.5k-9.9k params in 15 epochs against batch 128, for
# 1.3-1.6x the time (docs/benchmarks.md, "Recipes for 15-epoch tiny nets").
FAST_RECIPE: dict[str, Any] = {
    "optimizer": "sgd", "lr_sgd": 0.1, "wd_sgd": 5e-4, "schedule": "onecycle", "log2_batch": 5,
    "rotate": 7.0, "translate": 0.05, "scale": 0.0, "label_smoothing": 0.05, "ema": False,
}


def _shape(convs: tuple[int, ...], pads: tuple[int, ...], trans: tuple[bool, ...],
           widths: tuple[float, ...], *, sep: bool = False, **rest: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"stages": len(convs)}
    for s, n in enumerate(convs):
        p[f"convs{s}"], p[f"pad{s}"] = n, pads[s]
        if s > 0:
            p[f"trans{s}"] = trans[s]
    p.update({f"w{j}": w for j, w in enumerate(widths)})
    p.update({f"sep{j}": sep for j in range(1, len(widths))})  # every 3x3 conv but the first
    return {**p, **rest}


# widths are each 3x3 conv's channels over the widest one (clamped to BOUNDS["width"])
SHAPES: dict[str, dict[str, Any]] = {
    # c10p c16p P | t8 c16p c16p c16p P | t8 c10 c16 | t10 gap: exact
    "ref10224": _shape((2, 3, 2), (1, 1, 0), (False, True, True),
                       (0.625, 1, 1, 1, 1, 0.625, 1), trans_ratio=0.5, head="gap",
                       bn="relu_bn", bias=True, drop=0.05, drop2d=True),
    # c16 c32 t20 P | c32 c16 c16 gap-conv10 (here: pool before the 1x1, gap-linear head)
    "ref18448": _shape((2, 3), (0, 0), (False, True), (0.5, 1, 1, 0.5, 0.5),
                       trans_ratio=0.625, head="gap_linear", bn="relu_bn", bias=False,
                       drop=0.15, drop2d=True),
    # c4p c8p P | c16 c20 c24 gap-lin32-10 (here: BN->ReLU after the last conv too)
    "ref9902": _shape((2, 3), (1, 0), (False, False), (0.25, 0.333, 0.667, 0.833, 1),
                      head="gap_mlp", hidden_ratio=1.333, bn="bn_relu", bias=False,
                      drop=0.0, drop2d=False),
    # c8 c16 c32 t16 P | c16 c32 gap-lin10 (here: pool before the 1x1)
    "ref13914": _shape((3, 2), (0, 0), (False, True), (0.25, 0.5, 1, 0.5, 1),
                       trans_ratio=0.5, head="gap_linear", bn="relu_bn", bias=True, drop=0.1,
                       drop2d=False),
    # (c8p c8p P) x2 | c8p c10p P | c10p c10p c10 flat (here: three stages, gap-linear head)
    "ref6016": _shape((2, 2, 2), (1, 1, 1), (False, False, False), (0.8, 0.8, 0.8, 0.8, 0.8, 1),
                      head="gap_linear", bn="relu_bn", bias=True, drop=0.15, drop2d=False),
    # c7 P | t5 c8 c9 c11 t10 gap at 2,187 params: a random draw of e053f51's default search
    # (studies/results/bench-front-vs-e053f51, b-s0 trial 4: 98.46 % val in 8 epochs). One conv at
    # 28x28, then a pool: cheap to train, and the budget goes to three convs at 13x13 and below.
    "onepool": _shape((1, 3), (0, 0), (False, True), (0.64, 0.73, 0.82, 1.0), trans_ratio=0.7,
                      head="gap", bn="relu_bn", bias=False, drop=0.0, drop2d=False),
    # onepool with every 3x3 conv but the first depthwise-separable: at a given size about twice
    # as wide (c12 P | t8 s14 s15 s19 t10 gap at 1,470 params)
    "onepool_sep": _shape((1, 3), (0, 0), (False, True), (0.64, 0.73, 0.82, 1.0),
                          sep=True, trans_ratio=0.7, head="gap", bn="relu_bn", bias=False,
                          drop=0.0, drop2d=False),
    # c4p c4p c8p P | c8p c8p c8p P | c8p c8p c6p gap-lin10 at 3,974 params: nine padded 3x3 convs,
    # three at 28x28, the shape of the hand-designed public nets of 3-4k params (the bench speed
    # panel's narrow28@4.0k: 99.01 % val / 99.10 % test in 15 epochs at batch 128, seed 0). Not in
    # the default plan: no warm-start panel across seeds has chosen it yet.
    "narrow28": _shape((3, 3, 3), (1, 1, 1), (False, False, False),
                       (0.5, 0.5, 1, 1, 1, 1, 1, 1, 0.75), head="gap_linear", bn="relu_bn",
                       bias=False, drop=0.0, drop2d=False),
}
MIN_SIZE = 900  # params: the smallest warm start (onepool: 96.6 % val at 892 params, 8 epochs)
# Typical ratio between consecutive warm-start sizes. 2 rather than 2.5: at budget 20,000 a size
# near 9k between 7.1k and 20k, where full2-b20000's front had no net at or under ref10224's size
# as good as it (docs/results.md); budget 10,000 keeps the same four sizes.
STEP = 2.0


def _round_down(x: float) -> int:
    """x down to two significant figures (2,008 -> 2,000; 4,481 -> 4,400)."""
    unit = 10 ** max(0, math.floor(math.log10(x)) - 1)
    return int(x // unit * unit)


def warm_sizes(budget: int) -> list[int]:
    """Target sizes, largest first: the budget down to MIN_SIZE in equal log steps near STEP
    (between STEP ** 0.5 and STEP ** 1.5); just the budget where it is within STEP ** 0.5 of it.
    The sizes between are rounded down to two significant figures, so that a start lands under
    the round cap a user reads the front at (2,000 rather than 2,008 params)."""
    lo = max(MIN_SIZE, smallest_budget())
    n = round(math.log(max(budget, lo) / lo) / math.log(STEP))
    if n == 0:
        return [budget]
    between = [_round_down(budget * (lo / budget) ** (i / n)) for i in range(1, n)]
    return [budget, *between, lo]


def label(name: str, n_params: int) -> str:
    """e.g. 'ref10224@4.9k': shape `name` at `n_params` parameters."""
    return f"{name}@{n_params / 1000:.1f}k"


def warm_starts(budget: int, plan: Iterable[tuple[str, int]]) -> list[tuple[str, dict[str, Any]]]:
    """(label, complete sampler draw) per warm start: each (shape, smallest size) of `plan` at
    every size of warm_sizes(budget) from its smallest size up; all fit the budget. In the plan's
    order, each shape smallest first: they are the study's first trials, and small nets train in a
    fraction of a big one's time, so a front across the sizes exists within minutes of the start."""
    out, sizes = [], warm_sizes(budget)
    for rank, (name, smallest) in enumerate(plan):
        for target in sizes:
            if target < smallest:
                continue
            p = {**SHAPES[name], **FAST_RECIPE}
            p["size"] = size_for(p, budget, target)
            n = count_params(decode(p, budget).net)
            out.append((n, rank, label(name, n), p))
    return [(lab, p) for _, _, lab, p in sorted(out, key=lambda x: (x[1], x[0]))]


class _Draw:
    """Answers ``suggest`` from a stored draw; keys the space gained since it was drawn get the
    value its net and recipe were decoded with (plain convs, no zoom, no average, its batch size
    as log2_batch)."""

    DEFAULTS: ClassVar[dict[str, Any]] = {"scale": 0.0, "ema": False}

    def __init__(self, params: dict[str, Any]) -> None:
        self.p = params

    def _get(self, name: str) -> Any:
        if name in self.p:
            return self.p[name]
        if name == "log2_batch":  # drawn when the batch size was a categorical choice
            return int(self.p["batch_size"]).bit_length() - 1
        return False if name.startswith("sep") else self.DEFAULTS[name]

    def suggest_int(self, name: str, low: int, high: int) -> int:
        return self._get(name)

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return self._get(name)

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._get(name)


def transfer(params: dict[str, Any], n_params: int, from_budget: int,
             budget: int) -> dict[str, Any]:
    """A draw of a study at `from_budget` (its trial.params; a net of `n_params`) as a complete
    draw at `budget`: the very same net and recipe where it fits (n_params <= budget), else its
    shape at the widest that does, with its own recipe."""
    t = fitting_topology(params, from_budget)  # the shape that ran, wherever the budget cut it
    p = {k: v for k, v in params.items()
         if k.rstrip("0123456789") not in ("convs", "pad", "trans")}
    p.update(stages=len(t.convs), head=t.head)
    for s, n in enumerate(t.convs):
        p[f"convs{s}"], p[f"pad{s}"] = n, t.pads[s]
        if s > 0:
            p[f"trans{s}"] = t.trans[s]
    p = suggest(_Draw(p))  # exactly the keys this shape asks for, in the sampler's order
    p["size"] = size_for(p, budget, min(n_params, budget))
    return p
