"""space.sampler: every draw fits the budget, is reproducible, and decodes back from its params."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch
from torch import nn

from space import (
    BOUNDS,
    RECIPE_KEYS,
    BudgetError,
    Candidate,
    build,
    count_params,
    decode,
    net_params,
    sample,
    smallest_budget,
    spatial_sizes,
    suggest,
    validate,
)
from space.config import IN_CHANNELS, IN_SIZE, N_CLASSES

REPO = Path(__file__).resolve().parents[2]
# 200 cached draws per budget cost 2-4 s each; the fast tier keeps three budgets (2000 is drawn
# for other tests anyway)
BUDGETS = [smallest_budget(), pytest.param(600, marks=pytest.mark.slow), 2000, 10_000,
           pytest.param(20_000, marks=pytest.mark.slow)]
N_FORWARD = 30  # draws per budget that also get a forward/backward pass


def n_numel(cand: Candidate) -> int:
    return sum(p.numel() for p in build(cand.net).parameters())


def widest_params(**over: object) -> dict:
    """A complete draw at the largest topology and costliest options of the space."""
    b = BOUNDS
    n = b["stages"][1]
    p: dict = {"stages": n}
    for s in range(n):
        p[f"convs{s}"] = b["convs"][1]
        p[f"pad{s}"] = 1
        if s > 0:
            p[f"trans{s}"] = True
    p.update(
        trans_ratio=b["trans_ratio"][1], size=b["size"][1], bn="relu_bn",
        bias=True, drop=b["drop"][1], drop2d=True, head="gap_mlp",
        hidden_ratio=b["hidden_ratio"][1], optimizer="sgd", lr_sgd=b["lr_sgd"][0],
        wd_sgd=b["wd_sgd"][0], schedule="onecycle", log2_batch=b["log2_batch"][0], rotate=0.0,
        translate=0.0, scale=0.0, label_smoothing=0.0, ema=False,
    )
    p.update({f"w{j}": b["width"][1] for j in range(n * b["convs"][1])})
    p.update({f"sep{j}": False for j in range(1, n * b["convs"][1])})  # plain convs cost more
    p.update(over)
    if p["head"] != "gap_mlp":
        del p["hidden_ratio"]
    return p


def n3x3(cand: Candidate) -> int:
    return sum(c.k == 3 for c in cand.net.convs)


# ---------------------------------------------------------------- budget property (sizing sweep)


@pytest.mark.parametrize("budget", BUDGETS)
def test_every_draw_fits_and_analytic_count_is_exact(draws, budget):
    for params, cand in draws(budget):
        validate(cand.net)
        n = count_params(cand.net)
        assert n <= budget, (budget, params)
        assert n == n_numel(cand), params


@pytest.mark.parametrize("budget", BUDGETS)
def test_draws_forward_and_backward(draws, budget):
    torch.manual_seed(budget)
    x = torch.randn(2, IN_CHANNELS, IN_SIZE, IN_SIZE)
    y = torch.randint(0, N_CLASSES, (2,))
    for params, cand in draws(budget)[:N_FORWARD]:
        net = build(cand.net).train()
        out = net(x)
        assert out.shape == (2, N_CLASSES), params
        assert torch.isfinite(out).all(), params
        nn.functional.cross_entropy(out, y).backward()
        for name, p in net.named_parameters():
            assert p.grad is not None, (name, params)
            assert torch.isfinite(p.grad).all(), (name, params)


@pytest.mark.parametrize("budget", BUDGETS)
def test_draws_respect_bounds(draws, budget):
    b = BOUNDS
    for params, cand in draws(budget):
        net, tr = cand.net, cand.train
        assert all(c.out >= b["min_width"] for c in net.convs), params
        assert all(b["drop"][0] <= c.drop <= b["drop"][1] for c in net.convs), params
        assert net.head.kind in ("gap", "gap_linear"), params
        assert min(spatial_sizes(net)) >= 1
        n_pools = sum(c.pool for c in net.convs)
        assert b["stages"][0] - 1 <= n_pools <= b["stages"][1] - 1, params
        lo, hi = b[f"lr_{tr.optimizer}"]
        assert lo <= tr.lr <= hi
        lo, hi = b[f"wd_{tr.optimizer}"]
        assert lo <= tr.weight_decay <= hi
        lo, hi = b["log2_batch"]
        assert tr.batch_size in [2**k for k in range(lo, hi + 1)] and tr.schedule in b["schedule"]
        for knob in ("rotate", "translate", "scale", "label_smoothing"):
            assert b[knob][0] <= getattr(tr, knob) <= b[knob][1], knob
        assert tr.ema_epochs == 0 or b["ema_epochs"][0] <= tr.ema_epochs <= b["ema_epochs"][1]


def test_size_coverage_at_10k(draws):
    budget = 10_000
    sizes = sorted(count_params(c.net) for _, c in draws(budget))
    assert sizes[0] < 0.15 * budget
    assert sizes[-1] > 0.85 * budget
    # the log range [smallest_budget, budget] is populated throughout: no empty fifth
    lo, hi = math.log(smallest_budget()), math.log(budget)
    bins = {min(4, int(5 * (math.log(n) - lo) / (hi - lo))) for n in sizes}
    assert bins == set(range(5)), sorted(bins)


def test_size_draw_is_monotone():
    budget = 10_000
    counts = [count_params(decode(widest_params(size=s), budget).net) for s in (0, 0.25, 0.5, 1)]
    assert counts == sorted(counts)
    assert counts[0] < counts[-1] <= budget


def test_epochs_pass_through(draws):
    params, _ = draws(2000)[0]
    assert decode(params, 2000, epochs=3).train.epochs == 3
    assert sample(optuna.trial.FixedTrial(params), 2000, epochs=4).train.epochs == 4


# ---------------------------------------------------------------- determinism and round trip


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda seed: optuna.samplers.RandomSampler(seed=seed), id="random"),
        pytest.param(lambda seed: optuna.samplers.TPESampler(seed=seed), id="tpe"),
    ],
)
def test_same_seed_same_sequence(study_runner, make):
    n = 25  # beyond TPE's 10 startup trials
    a = [c for _, c in study_runner(2000, n, make(7))]
    b = [c for _, c in study_runner(2000, n, make(7))]
    other = [c for _, c in study_runner(2000, n, make(8))]
    assert a == b
    assert a != other


@pytest.mark.parametrize("budget", BUDGETS)
def test_decode_inverts_sample(draws, budget):
    for params, cand in draws(budget):
        assert decode(params, budget, cand.train.epochs) == cand, params
        assert sample(optuna.trial.FixedTrial(params), budget, cand.train.epochs) == cand, params


def test_suggest_returns_trial_params(draws):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        trial = study.ask()
        assert suggest(trial) == trial.params
        study.tell(trial, 0.0)
    for params, _ in draws(2000)[:50]:
        assert suggest(optuna.trial.FixedTrial(params)) == params


def test_widest_params_is_a_complete_draw():
    for over in ({}, {"bn": "bn_relu", "head": "gap"}, {"head": "gap_linear"}):
        p = widest_params(**over)
        assert suggest(optuna.trial.FixedTrial(p)) == p


# ---------------------------------------------------------------- budget floor and refusal


class _MustNotBeAsked:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"trial.{name} called although the budget is refused")


@pytest.mark.parametrize("delta", [1, 100])
def test_budget_below_floor_is_refused(delta):
    floor = smallest_budget()
    budget = floor - delta
    with pytest.raises(BudgetError) as ei:
        sample(_MustNotBeAsked(), budget)
    msg = str(ei.value)
    assert str(floor) in msg and str(budget) in msg and "\n" not in msg
    with pytest.raises(BudgetError) as ei:
        decode(widest_params(), budget)
    assert str(floor) in str(ei.value) and "\n" not in str(ei.value)
    assert isinstance(ei.value, ValueError)


def test_smallest_budget_is_the_narrowest_net():
    w = BOUNDS["min_width"]
    # two stages of one 3x3 conv at the minimum width, with conv bias and BN (the costliest
    # options), then a Linear(w, 10) head (a 1x1 conv to 10 channels costs the same):
    narrowest = (
        (IN_CHANNELS * w * 9 + w + 2 * w)  # conv 1->w: weight, bias, BN weight + bias
        + (w * w * 9 + w + 2 * w)  # conv w->w: weight, bias, BN weight + bias
        + (w * N_CLASSES + N_CLASSES)  # head: weight + bias
    )
    assert smallest_budget() == narrowest


@pytest.mark.parametrize("head", ["gap", "gap_linear", "gap_mlp"])
@pytest.mark.parametrize("bn", ["relu_bn", "bn_relu"])
def test_widest_topology_fits_the_smallest_budget(head, bn):
    floor = smallest_budget()
    cand = decode(widest_params(head=head, bn=bn), floor)
    assert count_params(cand.net) <= floor
    assert count_params(cand.net) == n_numel(cand)
    assert n3x3(cand) == BOUNDS["stages"][0]  # narrowed all the way: one 3x3 conv per stage


def test_topology_narrowed_only_when_needed():
    p = widest_params(size=0.0)  # size 0: the net stays at the narrowest widths of its topology
    full = decode(p, 1_000_000)
    assert n3x3(full) == BOUNDS["stages"][1] * BOUNDS["convs"][1]
    assert sum(c.k == 1 for c in full.net.convs) == BOUNDS["stages"][1] - 1  # transitions
    assert full.net.head.hidden > 0
    at_min = count_params(full.net)  # the full topology's own minimum size
    assert decode(p, at_min) == full  # an exact fit keeps the whole topology
    tighter = decode(p, at_min - 1)
    assert count_params(tighter.net) <= at_min - 1
    assert len(tighter.net.convs) < len(full.net.convs)


# ---------------------------------------------------------------- import hygiene


@pytest.mark.slow
def test_space_never_imports_optuna():
    code = "import space, sys; assert 'optuna' not in sys.modules, 'optuna imported'"
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- per-conv widths


def test_each_conv_has_its_own_width():
    # wide - narrow - wide - narrow: out of reach of a monotone width family
    p = widest_params(stages=2, convs0=2, convs1=2, trans1=False, head="gap_linear",
                      w0=1.0, w1=0.25, w2=1.0, w3=0.5)
    for j in range(4, 9):
        del p[f"w{j}"], p[f"sep{j}"]
    del p["trans2"], p["convs2"], p["pad2"], p["trans_ratio"]
    assert suggest(optuna.trial.FixedTrial(p)) == p
    widths = [c.out for c in decode(p, 20_000).net.convs if c.k == 3]
    assert widths[0] > widths[1] < widths[2] > widths[3]
    assert widths[1] == pytest.approx(widths[0] / 4, abs=1)
    assert widths[3] == pytest.approx(widths[2] / 2, abs=1)


@pytest.mark.parametrize("budget", [2_000, 10_000])
def test_width_ratios_are_drawn_per_conv(draws, budget):
    seen = 0
    for params, cand in draws(budget):
        ratios = [params[f"w{j}"] for j in range(sum(c.k == 3 for c in cand.net.convs))]
        assert all(BOUNDS["width"][0] <= r <= BOUNDS["width"][1] for r in ratios)
        widths = [c.out for c in cand.net.convs if c.k == 3]
        seen += any(a > b for a, b in itertools.pairwise(widths))  # a width that shrinks
    assert seen > 20  # shapes that were unreachable with one growth factor


def test_the_recipe_draws_reach_batch_32_zoom_and_weight_averaging(draws):
    trains = [c.train for _, c in draws(10_000)]
    assert {t.batch_size for t in trains} == {32, 64, 128, 256}
    assert any(t.scale > 0.1 for t in trains)
    ema = [t.ema_epochs for t in trains if t.ema_epochs]
    assert 0.2 < len(ema) / len(trains) < 0.8  # a coin per draw


def test_draws_made_before_the_recipe_grew_decode_as_they_trained():
    # a trial of an older study: categorical batch_size, no zoom, no EMA keys
    p = widest_params(head="gap")
    old = {k: v for k, v in p.items() if k not in ("log2_batch", "scale", "ema")}
    old["batch_size"] = 128
    t = decode(old, 10_000).train
    assert (t.batch_size, t.scale, t.ema_epochs) == (128, 0.0, 0.0)
    assert decode(old, 10_000).net == decode(p, 10_000).net


@pytest.mark.parametrize("budget", [2000, 10_000])
def test_net_params_fix_the_net_whatever_recipe_is_drawn(draws, budget):
    ds = [p for p, _ in draws(budget)]
    for p, q in zip(ds, ds[1:] + ds[:1], strict=True):  # q: another draw's recipe
        mixed = {**net_params(p), **{k: v for k, v in q.items() if k in RECIPE_KEYS}}
        assert decode(mixed, budget).net == decode(p, budget).net
        assert decode(mixed, budget).train == decode(q, budget).train
    assert set().union(*ds) - RECIPE_KEYS == set().union(*(net_params(p) for p in ds))
