"""The study's TPE draws every searched value but the net's size, which is stratified."""

from __future__ import annotations

import optuna

from search.store.samplers import make_sampler, stratified
from space import count_params, sample, size_for


def test_stratified_fills_every_band():
    for seed in (0, 1, 7):
        for k in (1, 2, 3, 4):
            for start in (0, 2**k, 3 * 2**k):  # aligned blocks
                xs = [stratified(n, seed) for n in range(start, start + 2**k)]
                assert all(0.0 <= x < 1.0 for x in xs)
                assert sorted(int(x * 2**k) for x in xs) == list(range(2**k)), (seed, k, start)
    assert stratified(3, 0) != stratified(3, 1)  # the seed rotates the sequence


def test_tpe_sizes_follow_the_strata_before_and_after_startup():
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(5))
    sizes, other = [], set()
    for _ in range(24):  # beyond the 10 random start-up trials
        trial = study.ask()
        cand = sample(trial, 10_000, 2)
        assert trial.params["size"] == stratified(trial.number, 5)
        n = count_params(cand.net)
        sizes.append(n)
        other.add(round(trial.params["lr_" + trial.params["optimizer"]], 6))
        study.tell(trial, [90.0 + n / 1000, n])
    assert len(other) > 12  # the rest is still drawn by TPE
    # log sizes spread over the range, not piled at one end
    small = sum(n < 1_500 for n in sizes)
    large = sum(n > 5_000 for n in sizes)
    assert small >= 4 and large >= 4, sorted(sizes)


def test_random_sampler_is_plain():
    study = optuna.create_study(sampler=make_sampler(5, "random"))
    sizes = {study.ask().suggest_float("size", 0, 1) for _ in range(8)}
    assert sizes != {stratified(n, 5) for n in range(8)}


def test_a_floor_keeps_every_draw_above_it_and_moves_nothing_else():
    budget, floor = 10_000, 2_000
    for kind in ("tpe", "random"):
        runs = {}
        for mp in (0, floor):
            study = optuna.create_study(directions=["maximize", "minimize"],
                                        sampler=make_sampler(3, kind, budget=budget, min_params=mp))
            draws = []
            for _ in range(30):
                trial = study.ask()
                n = count_params(sample(trial, budget, 2).net)
                draws.append((dict(trial.params), n))
                study.tell(trial, [90.0 + n / 1000, n])
            runs[mp] = draws
        assert min(n for _, n in runs[0]) < floor  # without it, some nets are smaller
        for p, n in runs[floor]:
            assert p["size"] >= size_for(p, budget, floor)  # the target is at least the floor
            assert floor * 0.85 <= n <= budget, (kind, n)  # the widest net under the target
        assert sum(n >= floor for _, n in runs[floor]) >= 25
        # the same draws but the size: all of random's, and TPE's random start-up trials
        same = 30 if kind == "random" else 10
        for (p0, _), (p1, _) in zip(runs[0][:same], runs[floor][:same], strict=True):
            assert {k: v for k, v in p0.items() if k != "size"} == \
                   {k: v for k, v in p1.items() if k != "size"}
