"""The Pareto pruner on synthetic ask/tell studies in memory."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from search.loop.pruner import ParetoPruner

EPOCHS = 10


def _study(trials: list[tuple[int, list[float], TrialState]]) -> optuna.Study:
    """An in-memory study holding finished trials with the attrs the objective writes."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    for params, curve, state in trials:
        done = state == TrialState.COMPLETE
        study.add_trial(
            optuna.create_trial(
                state=state,
                values=[curve[-1], params] if done else None,
                user_attrs={"params": params, "val_acc": curve, "epochs": EPOCHS},
            )
        )
    return study


def _curve(final: float, n: int = EPOCHS) -> list[float]:
    return [final - (n - e) * 1.0 for e in range(1, n + 1)]  # rises 1 pp per epoch to `final`


SMALL_GOOD = [(1000 + i, _curve(99.0), TrialState.COMPLETE) for i in range(8)]


def test_prunes_a_curve_beaten_by_smaller_trials():
    study = _study(SMALL_GOOD)
    reason = ParetoPruner().check(study, 99, 5000, _curve(95.0)[:3], EPOCHS)
    assert reason and "epoch 3" in reason and "8 trials" in reason


def test_keeps_a_curve_only_beaten_by_larger_trials():
    big = [(9000 + i, _curve(99.5), TrialState.COMPLETE) for i in range(8)]
    assert ParetoPruner().check(_study(big), 99, 2000, _curve(95.0)[:3], EPOCHS) is None


def test_keeps_the_best_curve_even_if_large():
    study = _study(SMALL_GOOD)
    assert ParetoPruner().check(study, 99, 5000, _curve(99.5)[:3], EPOCHS) is None


def test_needs_enough_dominators_and_margin():
    two = _study(SMALL_GOOD[:2] + [(9000 + i, _curve(99.5), TrialState.COMPLETE) for i in range(6)])
    assert ParetoPruner(n_dominators=3).check(two, 99, 5000, _curve(95.0)[:3], EPOCHS) is None
    assert ParetoPruner(n_dominators=2).check(two, 99, 5000, _curve(95.0)[:3], EPOCHS)
    # beaten by 4 pp at epoch 3: a 5 pp margin keeps it
    wide = ParetoPruner(margin=5.0)
    assert wide.check(_study(SMALL_GOOD), 99, 5000, _curve(95)[:3], EPOCHS) is None


@pytest.mark.parametrize("epoch", [1, 2])
def test_never_before_min_epoch(epoch: int):
    reason = ParetoPruner(min_epoch=3).check(_study(SMALL_GOOD), 99, 5000, [0.0] * epoch, EPOCHS)
    assert reason is None


def test_never_at_the_last_epoch():
    reason = ParetoPruner().check(_study(SMALL_GOOD), 99, 5000, [0.0] * EPOCHS, EPOCHS)
    assert reason is None


def test_warmup_counts_finished_trials_only():
    running = [(1000 + i, _curve(99.0)[:5], TrialState.RUNNING) for i in range(8)]
    few = _study(SMALL_GOOD[:3] + running)
    assert ParetoPruner(warmup_trials=8).check(few, 99, 5000, _curve(95.0)[:3], EPOCHS) is None
    # pruned trials count as finished, and their partial curves are evidence at early epochs
    pruned = [(1000 + i, _curve(99.0)[:4], TrialState.PRUNED) for i in range(5)]
    enough = _study(SMALL_GOOD[:3] + pruned)
    assert ParetoPruner(warmup_trials=8).check(enough, 99, 5000, _curve(95.0)[:3], EPOCHS)


def test_ignores_itself_and_other_epoch_budgets():
    study = optuna.create_study(directions=["maximize", "minimize"])
    for _ in range(8):  # same curves, but trained for 20 epochs: not comparable
        study.add_trial(
            optuna.create_trial(
                state=TrialState.COMPLETE,
                values=[99.0, 1000],
                user_attrs={"params": 1000, "val_acc": _curve(99.0, 20), "epochs": 20},
            )
        )
    assert ParetoPruner().check(study, 99, 5000, _curve(95.0)[:3], EPOCHS) is None
    study = _study(SMALL_GOOD)
    own = study.get_trials()[0].number  # a trial is never its own dominator
    assert ParetoPruner(n_dominators=8).check(study, own, 5000, _curve(95)[:3], EPOCHS) is None


def test_a_pruned_front_member_is_impossible():
    """Whatever the pruner stops is dominated at that epoch by >= n smaller-or-equal trials."""
    study = _study(SMALL_GOOD)
    p = ParetoPruner()
    for params in (500, 1000, 1003, 1007, 4000):
        for final in (90.0, 98.0, 99.0, 99.5):
            curve = _curve(final)[:4]
            reason = p.check(study, 99, params, curve, EPOCHS)
            beaten = [t for t in SMALL_GOOD if t[0] <= params and t[1][3] > curve[3]]
            assert bool(reason) == (len(beaten) >= p.n_dominators)
