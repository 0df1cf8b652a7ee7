"""Warm starts that fit any budget: the reference nets' shapes as points of the search space.

A new study begins with these (enqueued with their params, so the sampler learns from them):
the shape of each hand-tuned net written as sampler draws (``SHAPES``: stages, convs, padding,
transitions, relative widths, head, BN, dropout), re-widthed by the sampler's own scale to a few
sizes between ~1k params and the budget, and trained with one fast recipe (``FAST_RECIPE``). Only
ref10224's shape is exact (``decode`` at its size gives ``REFERENCES["ref10224"]``); the others
are the nearest shapes the space has (pool after the last 3x3 conv, GAP-linear heads).
"""

from __future__ import annotations

from typing import Any

from space.params import count_params
from space.sampler import decode, size_for, smallest_budget

__all__ = ["FAST_RECIPE", "SHAPES", "label", "warm_sizes", "warm_starts"]

# SGD + OneCycle at a high peak rate, light augmentation and label smoothing: ref10224's shape
# reached 99.24 % test in 8 epochs on CPU with it (issue 12), and it stays inside BOUNDS.
FAST_RECIPE: dict[str, Any] = {
    "optimizer": "sgd", "lr_sgd": 0.1, "wd_sgd": 5e-4, "schedule": "onecycle", "batch_size": 128,
    "rotate": 7.0, "translate": 0.05, "label_smoothing": 0.05,
}


def _shape(convs: tuple[int, ...], pads: tuple[int, ...], trans: tuple[bool, ...],
           widths: tuple[float, ...], **rest: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"stages": len(convs)}
    for s, n in enumerate(convs):
        p[f"convs{s}"], p[f"pad{s}"] = n, pads[s]
        if s > 0:
            p[f"trans{s}"] = trans[s]
    p.update({f"w{j}": w for j, w in enumerate(widths)})
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
}
MIN_SIZE = 1000  # params: below this no reference shape is worth a warm start
STEP = 2.5  # ratio between consecutive warm-start sizes


def warm_sizes(budget: int) -> list[int]:
    """Target sizes, largest first: the budget, then budget / 2.5^k down to ~1k params."""
    sizes, s = [budget], budget / STEP
    while s >= max(MIN_SIZE, smallest_budget()):
        sizes.append(int(s))
        s /= STEP
    return sizes


def label(name: str, n_params: int) -> str:
    """e.g. 'ref10224@4.9k': reference `name`'s shape at `n_params` parameters."""
    return f"{name}@{n_params / 1000:.1f}k"


def warm_starts(budget: int) -> list[tuple[str, dict[str, Any]]]:
    """(label, complete sampler draw) per warm start: ref10224's shape (the proven one) at every
    size of warm_sizes(budget), and as many other shapes, one per size; all fit the budget.
    Smallest first: they are the study's first trials, and small nets train in a fraction of a
    big one's time, so a front across the sizes exists within minutes of the start."""
    sizes = warm_sizes(budget)
    others = [n for n in SHAPES if n != "ref10224"][: len(sizes)]
    plan = [("ref10224", s) for s in sizes]
    plan += [(n, sizes[i % len(sizes)]) for i, n in enumerate(others)]
    out = []
    for name, target in plan:
        p = {**SHAPES[name], **FAST_RECIPE}
        p["size"] = size_for(p, budget, target)
        n = count_params(decode(p, budget).net)
        out.append((n, label(name, n), p))
    return [(lab, p) for _, lab, p in sorted(out, key=lambda x: x[0])]
