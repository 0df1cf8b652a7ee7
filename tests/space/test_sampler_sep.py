"""space.sampler and separable convs: drawn per 3x3 conv but the first, every net still within the
budget (small budgets too), width scale still monotone, and draws without sep keys decode as
they did (the committed studies' trials decode to their stored configs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import optuna
import pytest
import torch

from space import Candidate, build, count_params, decode, smallest_budget, suggest
from space.config import IN_CHANNELS, IN_SIZE, N_CLASSES
from space.sampler import W_MIN, Topology, _fitting_topology, _net

from .test_sampler import n_numel, widest_params

REPO = Path(__file__).resolve().parents[2]
SMALL_BUDGETS = [1_500, 2_500, 4_000]


def plain(params: dict) -> dict:
    """The same draw with every sep key removed."""
    return {k: v for k, v in params.items() if not k.startswith("sep")}


def seps(cand: Candidate) -> list[bool]:
    return [c.sep for c in cand.net.convs if c.k == 3]


# ---------------------------------------------------------------- the draw


@pytest.mark.parametrize("budget", [2_000, 10_000])
def test_sep_is_drawn_for_every_3x3_conv_but_the_first(draws, budget):
    n_sep = n_3x3 = 0
    for params, cand in draws(budget):
        drawn = sum(params[f"convs{s}"] for s in range(params["stages"]))
        assert {k for k in params if k.startswith("sep")} == {f"sep{j}" for j in range(1, drawn)}
        # conv j of the (possibly narrowed) topology is separable as its draw says; conv 0 never
        want = [j > 0 and params[f"sep{j}"] for j in range(len(seps(cand)))]
        assert seps(cand) == want, params
        assert not cand.net.convs[0].sep  # it sees the one grey-scale channel
        n_sep, n_3x3 = n_sep + sum(want), n_3x3 + len(want) - 1
    assert 0.35 < n_sep / n_3x3 < 0.65  # a fair coin per conv


def test_round_trip_with_sep_keys():
    p = widest_params(**{f"sep{j}": j % 2 == 1 for j in range(1, 9)})
    assert suggest(optuna.trial.FixedTrial(p)) == p
    cand = decode(p, 20_000)
    assert seps(cand) == [j % 2 == 1 for j in range(9)]  # nothing narrowed at this budget
    x = torch.randn(3, IN_CHANNELS, IN_SIZE, IN_SIZE)
    assert build(cand.net).eval()(x).shape == (3, N_CLASSES)


# ---------------------------------------------------------------- the budget


@pytest.mark.parametrize("budget", SMALL_BUDGETS)
def test_every_draw_fits_small_budgets(draws, budget):
    n_sep = 0
    for seed in range(4):
        for i, (params, cand) in enumerate(draws(budget, n=100, seed=seed)):
            assert count_params(cand.net) <= budget, (budget, seed, params)
            if i < 20:  # the analytic count is exact (the other sweeps check it at length)
                assert count_params(cand.net) == n_numel(cand), params
            n_sep += any(seps(cand))
    assert n_sep > 200  # of 400 draws: the sweep really holds separable nets


def test_floor_is_unchanged_by_separable_convs():
    # the narrowest net with its second conv separable is smaller than the plain one: the
    # floor is still the plain narrowest net (test_sampler checks it by hand)
    t = Topology((1, 1), (0, 0), (False, False), "gap_linear", "relu_bn", True)
    plain_n = count_params(_net(t, W_MIN, {}))
    assert count_params(_net(t, W_MIN, {"sep1": True})) < plain_n <= smallest_budget()
    for head in ("gap", "gap_linear", "gap_mlp"):
        p = widest_params(head=head, **{f"sep{j}": True for j in range(1, 9)})
        cand = decode(p, smallest_budget())
        assert count_params(cand.net) <= smallest_budget() and any(seps(cand))


@pytest.mark.parametrize("budget", [1_500, 4_000])
def test_separable_nets_shrink_and_grow_with_the_width_scale(draws, budget):
    # what the bisection in decode() relies on: at each scale a separable version of the net is
    # no larger than the plain one, and both grow with the scale
    scales = [W_MIN * 1.15**i for i in range(25)]
    for params, _ in draws(budget, n=100)[:60]:  # the draws of the sweep above
        t, _ = _fitting_topology(params, budget)
        counts = [count_params(_net(t, w, params)) for w in scales]
        plain_counts = [count_params(_net(t, w, plain(params))) for w in scales]
        assert counts == sorted(counts), params
        assert all(a <= b for a, b in zip(counts, plain_counts, strict=True)), params


# ---------------------------------------------------------------- draws without sep keys


def test_draws_without_sep_keys_decode_to_plain_nets(draws):
    for params, cand in draws(10_000)[:60]:
        old = decode(plain(params), 10_000, cand.train.epochs)
        assert not any(seps(old))
        no = {k: False for k in params if k.startswith("sep")}
        assert old == decode({**params, **no}, 10_000, cand.train.epochs)


def _committed_dbs() -> list[Path]:
    return sorted((REPO / "studies").rglob("*.db"))


@pytest.mark.parametrize("db", _committed_dbs(), ids=lambda p: p.stem)
def test_committed_trials_decode_to_their_stored_configs(db, tmp_path):
    # every committed trial, drawn with or without sep keys: decode(trial.params) gives its net
    copy = tmp_path / db.name  # a copy: loading a study must never touch the committed file
    shutil.copyfile(db, copy)
    url = f"sqlite:///{copy}"
    checked = 0
    for summary in optuna.get_all_study_summaries(url):
        study = optuna.load_study(study_name=summary.study_name, storage=url)
        budget = study.user_attrs["settings"]["budget"]
        for t in study.get_trials(deepcopy=False):
            if "config" not in t.user_attrs or not t.params:  # references carry no draws
                continue
            stored = Candidate.from_dict(t.user_attrs["config"])
            assert decode(t.params, budget, stored.train.epochs) == stored, t.number
            checked += 1
    assert checked > 10
