"""space.neighbour: local moves that stay points of the space, within the budget."""

from __future__ import annotations

import random

import optuna
import pytest

from space import BOUNDS, RECIPE_KEYS, count_params, decode, neighbour, suggest
from space.warmstart import warm_starts

BUDGETS = [1_000, 4_000, 10_000, 20_000]


def _bounds(key: str) -> tuple[float, float]:
    if key[0] == "w" and key[1:].isdigit():
        return BOUNDS["width"]
    if key[:-1] in ("convs", "pad"):
        return BOUNDS["convs"] if key.startswith("convs") else (0, 1)
    return BOUNDS[key]


def _draws(budget: int, n: int) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=budget))
    return [suggest(study.ask()) for _ in range(n)]


@pytest.mark.parametrize("budget", BUDGETS)
def test_a_neighbour_is_a_draw_that_fits_and_moves_at_most_two_values(budget: int) -> None:
    rng = random.Random(budget)
    for params in _draws(budget, 60):
        nb = neighbour(params, rng)
        assert suggest(optuna.trial.FixedTrial(nb)) == nb  # a complete point of the space
        assert count_params(decode(nb, budget).net) <= budget
        moved = {k for k in params.keys() & nb.keys() if params[k] != nb[k]}
        assert 1 <= len(moved) <= 2
        for k, v in nb.items():  # every number inside its bounds
            if not isinstance(v, (bool, str)):
                lo, hi = _bounds(k)
                assert lo <= v <= hi, k


def test_moves_are_local_and_every_value_gets_moved() -> None:
    rng = random.Random(0)
    params = _draws(10_000, 1)[0]
    seen: set[str] = set()
    for _ in range(400):
        nb = neighbour(params, rng, moves=1)
        moved = [k for k in params.keys() & nb.keys() if params[k] != nb[k]]
        assert len(moved) <= 1  # a branch switch adds keys, it moves one value
        seen.update(moved)
        if "size" in moved:  # a float step is a fraction of the range, not a fresh draw
            assert abs(nb["size"] - params["size"]) < 0.8
        if "log2_batch" in moved:
            assert abs(nb["log2_batch"] - params["log2_batch"]) == 1
    assert seen == set(params)  # each value is one of the moves


def test_keys_restrict_the_moves_to_the_recipe() -> None:
    rng = random.Random(1)
    for _, params in warm_starts(10_000, [("onepool_sep", 0)]):
        for _ in range(20):
            nb = neighbour(params, rng, keys=RECIPE_KEYS)
            moved = {k for k in params.keys() | nb.keys() if params.get(k) != nb.get(k)}
            assert moved and moved <= RECIPE_KEYS
            assert decode(nb, 10_000).net == decode(params, 10_000).net


def test_the_same_rng_state_gives_the_same_neighbour() -> None:
    params = _draws(4_000, 1)[0]
    assert neighbour(params, random.Random(7)) == neighbour(params, random.Random(7))


def test_an_older_draw_moves_only_its_moves() -> None:
    # drawn before separable convs, zoom, weight averaging and log2_batch were in the space
    params = {k: v for k, v in _draws(10_000, 1)[0].items()
              if not k.startswith("sep") and k not in ("scale", "ema", "ema_epochs",
                                                        "log2_batch")}
    params["batch_size"] = 128
    rng = random.Random(2)
    for _ in range(50):
        nb = neighbour(params, rng, moves=1)
        unmoved = {k: v for k, v in nb.items() if k.startswith("sep") or k in ("scale", "ema")}
        moved = [k for k in params.keys() & nb.keys() if params[k] != nb[k]]
        news = {k for k, v in unmoved.items() if v not in (False, 0.0)}
        assert len(moved) + len(news) + (nb["log2_batch"] != 7) <= 1  # as decoded, but one move
