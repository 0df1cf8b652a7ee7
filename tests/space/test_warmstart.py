"""space.warmstart: reference shapes re-widthed to any budget, as complete points of the space."""

from __future__ import annotations

import itertools

import optuna
import pytest

from space import BOUNDS, REFERENCES, count_params, decode, size_for, smallest_budget, suggest
from space.warmstart import FAST_RECIPE, SHAPES, warm_sizes, warm_starts

BUDGETS = [smallest_budget(), 600, 1_000, 2_000, 3_000, 6_016, 10_000, 20_000, 100_000]


@pytest.mark.parametrize("budget", BUDGETS)
def test_every_warm_start_is_a_draw_that_fits(budget: int) -> None:
    starts = warm_starts(budget)
    assert starts and any(lab.startswith("ref10224@") for lab, _ in starts)
    for lab, params in starts:
        assert suggest(optuna.trial.FixedTrial(params)) == params  # a point of the space
        n = count_params(decode(params, budget).net)
        assert n <= budget
        assert lab.endswith(f"@{n / 1000:.1f}k") and lab.split("@")[0] in SHAPES
    sizes = [count_params(decode(p, budget).net) for _, p in starts]
    assert sizes == sorted(sizes)  # smallest first: a front across the sizes within minutes


@pytest.mark.parametrize("budget", BUDGETS)
def test_sizes_run_from_the_budget_down_to_about_1k(budget: int) -> None:
    sizes = warm_sizes(budget)
    assert sizes[0] == budget and sizes == sorted(sizes, reverse=True)
    assert all(s >= 1000 for s in sizes[1:])
    assert all(a / b == pytest.approx(2.5, rel=0.01) for a, b in itertools.pairwise(sizes))
    # ref10224's shape at each size, as close under it as its width steps allow (or its
    # narrowest version, where even that is above the size: size draw 0)
    ref = [p for lab, p in warm_starts(budget) if lab.startswith("ref10224@")]
    assert len(ref) == len(sizes)
    for p, s in zip(ref, sorted(sizes), strict=True):  # warm starts come smallest first
        n = count_params(decode(p, budget).net)
        if p["size"] > 0 and budget >= 3_000:
            assert 0.8 * s <= n <= s, (n, s)


@pytest.mark.parametrize("budget", [10_224, 20_000, 100_000])
def test_ref10224_shape_is_exact(budget: int) -> None:
    p = {**SHAPES["ref10224"], **FAST_RECIPE}
    p["size"] = size_for(p, budget, 10_224)
    assert decode(p, budget).net == REFERENCES["ref10224"].net


def test_fast_recipe_is_inside_the_bounds() -> None:
    r, b = FAST_RECIPE, BOUNDS
    assert b["lr_sgd"][0] <= r["lr_sgd"] <= b["lr_sgd"][1]
    assert b["wd_sgd"][0] <= r["wd_sgd"] <= b["wd_sgd"][1]
    assert r["batch_size"] in b["batch_size"] and r["schedule"] in b["schedule"]
    for knob in ("rotate", "translate", "label_smoothing"):
        assert b[knob][0] <= r[knob] <= b[knob][1]
    for shape in SHAPES.values():
        ws = [v for k, v in shape.items() if k[0] == "w" and k[1:].isdigit()]
        assert all(b["width"][0] <= w <= b["width"][1] for w in ws)
        assert b["drop"][0] <= shape["drop"] <= b["drop"][1]
