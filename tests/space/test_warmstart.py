"""space.warmstart: proven shapes re-widthed to any budget, as complete points of the space."""

from __future__ import annotations

import optuna
import pytest

from space import BOUNDS, REFERENCES, count_params, decode, size_for, smallest_budget, suggest
from space.warmstart import FAST_RECIPE, MIN_SIZE, SHAPES, STEP, transfer, warm_sizes, warm_starts

BUDGETS = [smallest_budget(), 600, 1_000, 2_000, 3_000, 6_016, 10_000, 20_000, 100_000]
# a plan as the search gives one (search.config): shapes in order, each from a size up
PLAN = {"onepool": 0, "ref10224": 3000, "ref6016": 1500}


@pytest.mark.parametrize("budget", BUDGETS)
def test_every_warm_start_is_a_draw_that_fits(budget: int) -> None:
    starts = warm_starts(budget, PLAN.items())
    names = {lab.split("@")[0] for lab, _ in starts}
    # every shape of the plan starts wherever the budget reaches its smallest size
    assert names == {n for n, lo in PLAN.items() if budget >= lo}
    for lab, params in starts:
        assert suggest(optuna.trial.FixedTrial(params)) == params  # a point of the space
        n = count_params(decode(params, budget).net)
        assert n <= budget
        assert lab.endswith(f"@{n / 1000:.1f}k") and lab.split("@")[0] in SHAPES
    # in PLAN's order, each shape smallest first: a front across the sizes within minutes
    order = list(PLAN)
    keys = [(order.index(lab.split("@")[0]), count_params(decode(p, budget).net))
            for lab, p in starts]
    assert keys == sorted(keys)


@pytest.mark.parametrize("budget", BUDGETS)
def test_sizes_run_from_the_budget_down_to_about_900(budget: int) -> None:
    sizes = warm_sizes(budget)
    assert sizes[0] == budget and sizes == sorted(sizes, reverse=True)
    if len(sizes) > 1:
        assert sizes[-1] == max(MIN_SIZE, smallest_budget())
        # equal steps on a log scale, near STEP; those between rounded down to two figures
        step = (sizes[0] / sizes[-1]) ** (1 / (len(sizes) - 1))
        assert STEP**0.5 <= step <= STEP**1.5
        for i, s in enumerate(sizes[1:-1], start=1):
            exact = sizes[0] / step**i
            assert 0.9 * exact < s <= exact and len(str(s).rstrip("0")) <= 2, (s, exact)
    else:
        assert budget < MIN_SIZE * STEP**0.5
    # each shape at each size from its own smallest up, as close under it as its width steps
    # allow (or its narrowest version, where even that is above the size: size draw 0)
    starts = warm_starts(budget, PLAN.items())
    for name, lo in PLAN.items():
        mine = [p for lab, p in starts if lab.startswith(f"{name}@")]
        want = sorted(s for s in sizes if s >= lo)
        assert len(mine) == len(want)
        for p, s in zip(mine, want, strict=True):  # warm starts come smallest first
            n = count_params(decode(p, budget).net)
            assert n <= budget
            if p["size"] > 0 and s >= 3_000:
                assert 0.8 * s <= n <= s, (name, n, s)


@pytest.mark.parametrize("budget", [10_224, 20_000, 100_000])
def test_ref10224_shape_is_exact(budget: int) -> None:
    p = {**SHAPES["ref10224"], **FAST_RECIPE}
    p["size"] = size_for(p, budget, 10_224)
    assert decode(p, budget).net == REFERENCES["ref10224"].net


def test_fast_recipe_is_inside_the_bounds() -> None:
    r, b = FAST_RECIPE, BOUNDS
    assert b["lr_sgd"][0] <= r["lr_sgd"] <= b["lr_sgd"][1]
    assert b["wd_sgd"][0] <= r["wd_sgd"] <= b["wd_sgd"][1]
    assert b["log2_batch"][0] <= r["log2_batch"] <= b["log2_batch"][1]
    assert r["schedule"] in b["schedule"] and r["ema"] is False
    for knob in ("rotate", "translate", "scale", "label_smoothing"):
        assert b[knob][0] <= r[knob] <= b[knob][1]
    for shape in SHAPES.values():
        ws = [v for k, v in shape.items() if k[0] == "w" and k[1:].isdigit()]
        assert all(b["width"][0] <= w <= b["width"][1] for w in ws)
        assert b["drop"][0] <= shape["drop"] <= b["drop"][1]


def test_narrow28_is_the_panels_narrow_full_resolution_net_at_3974() -> None:
    p = {**SHAPES["narrow28"], **FAST_RECIPE}
    p["size"] = size_for(p, 10_000, 3974)
    net = decode(p, 10_000).net
    assert count_params(net) == 3974
    assert [c.out for c in net.convs] == [4, 4, 8, 8, 8, 8, 8, 8, 6]
    assert all(c.pad == 1 for c in net.convs) and sum(c.pool for c in net.convs) == 2


def _draws(budget: int, n: int) -> list[tuple[dict, int]]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=budget))
    out = []
    for _ in range(n):
        trial = study.ask()
        params = suggest(trial)
        out.append((params, count_params(decode(params, budget).net)))
    return out


@pytest.mark.parametrize(("src", "dst"), [(2_000, 8_000), (8_000, 8_000), (20_000, 8_000),
                                          (20_000, 2_000), (600, 100_000)])
def test_transfer_keeps_the_net_and_recipe_where_it_fits_else_its_shape_at_the_budget(
        src: int, dst: int) -> None:
    for params, n in _draws(src, 150):
        p = transfer(params, n, src, dst)
        assert suggest(optuna.trial.FixedTrial(p)) == p  # a complete point of the space
        was, now = decode(params, src), decode(p, dst)
        assert now.train == was.train  # its own recipe, always
        if n <= dst:
            assert now.net == was.net  # the very same net (also where src narrowed its shape)
        else:
            got = count_params(now.net)
            assert got <= dst and [c.k for c in now.net.convs] == [c.k for c in was.net.convs]
            # the widest of its shape that fits: one more step of width would not
            assert p["size"] == 1.0 or got > 0.7 * dst


def test_transfer_reads_draws_made_before_the_space_grew() -> None:
    # a trial of an older space: categorical batch size, no separable / zoom / average keys
    (params, n), = _draws(10_000, 1)
    old = {k: v for k, v in params.items()
           if not k.startswith("sep") and k not in ("scale", "ema", "ema_epochs", "log2_batch")}
    old["batch_size"] = 64
    p = transfer(old, n, 10_000, 10_000)
    assert suggest(optuna.trial.FixedTrial(p)) == p
    assert p["log2_batch"] == 6 and p["scale"] == 0.0 and p["ema"] is False
    assert not any(p[k] for k in p if k.startswith("sep"))
    assert decode(p, 10_000).train == decode(old, 10_000).train
