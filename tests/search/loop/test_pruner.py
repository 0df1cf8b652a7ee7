"""The Pareto successive-halving pruner on synthetic ask/tell studies in memory."""

from __future__ import annotations

import math
import random

import optuna
import pytest
from optuna.trial import TrialState

from search.loop.pruner import ParetoPruner, rank

EPOCHS = 15


def _study(trials: list[tuple[int, list[float], TrialState]], epochs: int = EPOCHS,
           starts: list[tuple[str, int, list[float]]] = ()) -> optuna.Study:
    """An in-memory study holding trials with the attrs the objective writes; `starts` are
    complete queued trials: (attr, params, curve), attr "warm_start" or "reference"."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    for attr, params, curve in starts:
        study.add_trial(optuna.create_trial(
            state=TrialState.COMPLETE, values=[curve[-1], params],
            user_attrs={"params": params, "val_acc": curve, "epochs": epochs, attr: "x"},
        ))
    for params, curve, state in trials:
        done = state == TrialState.COMPLETE
        study.add_trial(optuna.create_trial(
            state=state, values=[curve[-1], params] if done else None,
            user_attrs={"params": params, "val_acc": curve, "epochs": epochs},
        ))
    return study


def _curve(final: float, n: int = EPOCHS) -> list[float]:
    return [final - (n - e) * 0.1 for e in range(1, n + 1)]  # rises 0.1 pp per epoch


def test_rungs_are_geometric_and_below_the_last_epoch():
    assert ParetoPruner().rungs(15) == [1, 3, 9]
    assert ParetoPruner().rungs(8) == [1, 3]
    assert ParetoPruner().rungs(1) == []
    assert ParetoPruner(eta=2, min_epoch=2).rungs(20) == [2, 4, 8, 16]


def test_prunes_a_dominated_trial_at_the_first_epoch():
    study = _study([(1000 + i, _curve(99.0), TrialState.COMPLETE) for i in range(8)])
    reason = ParetoPruner().check(study, 99, 5000, [95.0], EPOCHS)
    assert reason and "rung epoch 1" in reason and "of 9 trials" in reason and "top 3" in reason


def test_acts_only_at_rungs_and_never_at_the_last_epoch():
    study = _study([(1000 + i, _curve(99.0), TrialState.COMPLETE) for i in range(8)])
    p = ParetoPruner()
    assert p.check(study, 99, 5000, [90.0, 90.0], EPOCHS) is None  # epoch 2: no rung
    assert p.check(study, 99, 5000, [90.0] * 3, EPOCHS)  # epoch 3: rung
    assert p.check(study, 99, 5000, [90.0] * EPOCHS, EPOCHS) is None


def test_keeps_the_most_accurate_and_the_smallest():
    study = _study([(5000 + i, _curve(98.0), TrialState.COMPLETE) for i in range(8)])
    p = ParetoPruner()
    assert p.check(study, 99, 9000, [99.5], EPOCHS) is None  # best accuracy, however large
    assert p.check(study, 99, 600, [80.0], EPOCHS) is None  # smallest: an end of the front


def test_the_rungs_pareto_front_always_goes_on():
    # nine mutually non-dominated trials: bigger is better, sizes 1k..9k
    pts = [(1000 * k, [90.0 + k]) for k in range(1, 10)]
    study = _study([(p, c, TrialState.PRUNED) for p, c in pts])
    p = ParetoPruner()
    # every new front member goes on, wherever it lands on the front
    for params, acc in ((4500, 94.6), (500, 90.5), (9500, 99.5), (1500, 91.6)):
        assert p.check(study, 99, params, [acc], EPOCHS) is None, (params, acc)
    # the regression that made the rule: smallest of three, beaten only by larger nets
    three = _study([(9373, [97.23], TrialState.RUNNING), (3391, [94.32], TrialState.RUNNING)])
    assert p.check(three, 99, 1393, [89.77], EPOCHS) is None


def test_a_dominated_trial_in_the_bottom_two_thirds_is_cut():
    front = [(1000, [95.0]), (5000, [97.0]), (9000, [99.0])]
    behind = [(1100 + 400 * k, [90.0 + 0.1 * k]) for k in range(8)]
    study = _study([(p, c, TrialState.PRUNED) for p, c in front + behind])
    assert ParetoPruner().check(study, 99, 1050, [89.0], EPOCHS)  # dominated by 1000 @ 95.0


def test_needs_min_at_rung_trials_and_honours_enabled():
    one = _study([(1000, _curve(99.0), TrialState.COMPLETE)])
    assert ParetoPruner().check(one, 99, 5000, [50.0], EPOCHS) is None  # 2 < 3 at the rung
    assert ParetoPruner(min_at_rung=2).check(one, 99, 5000, [50.0], EPOCHS)
    many = _study([(1000 + i, _curve(99.0), TrialState.COMPLETE) for i in range(8)])
    assert ParetoPruner(enabled=False).check(many, 99, 5000, [50.0], EPOCHS) is None


def test_running_and_pruned_trials_count_but_not_other_epoch_budgets_or_itself():
    running = [(1000 + i, [99.0, 99.0], TrialState.RUNNING) for i in range(4)]  # another worker
    pruned = [(1000 + i, [99.0], TrialState.PRUNED) for i in range(4)]
    study = _study(running + pruned)
    assert ParetoPruner().check(study, 99, 5000, [90.0], EPOCHS)
    other_budget = _study([(1000 + i, _curve(99.0, 20), TrialState.COMPLETE) for i in range(8)],
                          epochs=20)
    assert ParetoPruner().check(other_budget, 99, 5000, [90.0], EPOCHS) is None
    study = _study([(1000, [99.0], TrialState.RUNNING), (1001, [99.0], TrialState.PRUNED)])
    own = study.get_trials()[0].number  # its own stored curve is not a second opinion
    assert ParetoPruner().check(study, own, 5000, [90.0], EPOCHS) is None


def test_keeps_the_front_and_the_top_third_when_everything_is_ordered():
    # a chain: each trial both smaller and more accurate than the next, one front each
    pool = [(1000 + i, [99.0 - i]) for i in range(9)]
    study = _study([(p, c, TrialState.PRUNED) for p, c in pool])
    p = ParetoPruner()
    kept = [acc for acc in (99.5, 96.5, 93.5, 90.5)
            if p.check(study, 99, 999 + 10 * (99 - int(acc)), [acc], EPOCHS) is None]
    assert kept == [99.5, 96.5]  # the front itself, and rank 4 of 10: top ceil(10/3) = 4


def test_among_draws_leaves_the_warm_starts_and_references_out_of_the_rungs():
    # full3-b20000's epoch-1 rung in small: starts ahead of every draw at every size
    starts = [("warm_start", 900 * 2 ** i, _curve(97.0 + i * 0.2)) for i in range(5)]
    starts.append(("reference", 6016, _curve(98.0)))
    draws = [(1000 + 700 * i, [90.0 + i * 0.1], TrialState.PRUNED) for i in range(5)]
    study = _study(draws, starts=starts)
    me = (3000, [94.5])  # better than every draw, behind a smaller start
    assert "ranked" in ParetoPruner().check(study, 99, *me, EPOCHS)
    assert ParetoPruner(among="draws").check(study, 99, *me, EPOCHS) is None
    worst = (4200, [89.0])  # behind every draw: still pruned among draws
    assert "of 6 trials" in ParetoPruner(among="draws").check(study, 99, *worst, EPOCHS)
    alone = _study([], starts=starts)  # starts only: too few draws at the rung to cut
    assert ParetoPruner(among="draws").check(alone, 99, 3000, [50.0], EPOCHS) is None


def test_among_mixed_keeps_the_front_of_all_and_the_top_third_of_the_draws():
    starts = [("warm_start", 900 * 2 ** i, _curve(97.0 + i * 0.2)) for i in range(5)]
    draws = [(1000 + 700 * i, [90.0 + i * 0.1], TrialState.PRUNED) for i in range(5)]
    study = _study(draws, starts=starts)
    mixed = ParetoPruner(among="mixed")
    me = (3000, [94.5])  # leads the draws, behind a smaller start: cut under all, kept here
    assert "ranked" in ParetoPruner().check(study, 99, *me, EPOCHS)
    assert mixed.check(study, 99, *me, EPOCHS) is None
    assert mixed.check(study, 99, 500, [60.0], EPOCHS) is None  # the front of all: smallest
    # on the draws' own front (a chain from 1,000 at 90.0 to 3,800 at 90.4), in its crowded
    # middle, so not in their top third: kept under draws, cut under mixed, ranked among 6 draws
    tiny = (2050, [90.16])
    assert ParetoPruner(among="draws").check(study, 99, *tiny, EPOCHS) is None
    assert "of 6 trials" in mixed.check(study, 99, *tiny, EPOCHS)
    # the only draw at the rung: ranked among all trials, as under all (not waved through)
    alone = _study([], starts=starts)
    assert ParetoPruner(among="draws").check(alone, 99, 3000, [50.0], EPOCHS) is None
    assert "of 6 trials" in mixed.check(alone, 99, 3000, [50.0], EPOCHS)
    # with one other draw there, the two are ranked against each other: the better goes on
    two = _study(draws[:1], starts=starts)
    assert mixed.check(two, 99, 3000, [93.0], EPOCHS) is None
    assert "of 2 trials" in mixed.check(two, 99, 3000, [50.0], EPOCHS)


def test_the_search_config_sets_whom_a_draw_is_ranked_against():
    from search.config import SearchConfig
    assert ParetoPruner.of(SearchConfig()).among == SearchConfig.prune_among
    for among in ("draws", "mixed"):
        assert ParetoPruner.of(SearchConfig(prune_among=among)).among == among


def test_rank_is_non_dominated_sorting_then_spread():
    pts = [(99.0, 5000), (98.0, 1000), (97.0, 6000), (98.5, 3000), (99.0, 5000)]
    order = rank(pts)
    first = set(order[:4])
    assert first == {0, 1, 3, 4}  # the non-dominated ones (a tie dominates neither)
    assert order[-1] == 2  # dominated by (99.0, 5000) and (98.5, 3000)
    assert order[0] in (0, 1, 4)  # an end of the front comes first (infinite crowding)


@pytest.mark.parametrize("seed", range(5))
def test_never_prunes_a_trial_that_dominates_every_other_at_the_rung(seed: int):
    rng = random.Random(seed)
    pool = [(rng.randint(500, 9000), [rng.uniform(80, 98)]) for _ in range(30)]
    study = _study([(p, c, TrialState.PRUNED) for p, c in pool])
    assert ParetoPruner().check(study, 99, 400, [99.0], EPOCHS) is None
    # judged against the others, the rung keeps its front and the top 1/eta, cuts the rest
    kept = [t for t in study.get_trials() if ParetoPruner().check(
        study, t.number, t.user_attrs["params"], t.user_attrs["val_acc"], EPOCHS) is None]
    points = [(t.user_attrs["val_acc"][0], t.user_attrs["params"]) for t in study.get_trials()]
    front = [i for i, (a, n) in enumerate(points)
             if not any(b >= a and m <= n and (b, m) != (a, n) for b, m in points)]
    assert len(kept) == len(set(front) | set(rank(points)[: math.ceil(len(pool) / 3)]))


def test_a_neighbour_near_its_parent_goes_on_one_far_behind_does_not():
    # trial 0 (the parent) and four others all ahead at epoch 1: the Pareto rule cuts 96.5
    study = _study([(4400, [96.95, 97.5, 97.5], TrialState.COMPLETE)]
                   + [(4000 + i, [98.0 + i / 10], TrialState.PRUNED) for i in range(4)])
    p = ParetoPruner()
    assert p.check(study, 99, 4446, [96.5], EPOCHS)  # ranked among all: dominated, cut
    assert p.check(study, 99, 4446, [96.5], EPOCHS, parent=0) is None  # 0.45 pp behind: on
    reason = p.check(study, 99, 4446, [95.5], EPOCHS, parent=0)  # 1.45 pp behind: the usual rule
    assert reason and "ranked" in reason
    assert p.check(study, 99, 4446, [96.5, 96.9, 97.0], EPOCHS, parent=0) is None  # epoch 3
    assert p.check(study, 99, 4446, [96.5], EPOCHS, parent=42)  # no such trial: the usual rule
    assert ParetoPruner(enabled=False).check(study, 99, 4446, [10.0], EPOCHS, parent=0) is None
