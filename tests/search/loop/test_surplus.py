"""A worker that asks for a trial after the study reached its target stands down (Surplus); a
queued trial it popped goes back in the queue, so a rerun with a higher target still runs it."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from search.loop.objective import SURPLUS, Objective, Surplus
from search.loop.pruner import ParetoPruner


def _objective(target: int) -> Objective:
    # _check_surplus reads only the study and the target: no data, no training
    return Objective(budget=10_000, epochs=1, seed=0, data=None, target=target,
                     pruner=ParetoPruner())


def _study_with_one_finished() -> optuna.Study:
    study = optuna.create_study(directions=["maximize", "minimize"])
    done = study.ask()
    study.tell(done, [99.0, 5000])
    return study


@pytest.mark.parametrize("queued", [
    ({"size": 4000.0}, {"warm_start": "ref10224@4k"}),
    ({}, {"reference": "ref6016"}),
], ids=["warm-start", "reference"])
def test_a_popped_queued_trial_is_put_back(queued):
    params, attrs = queued
    study = _study_with_one_finished()
    study.enqueue_trial(params, user_attrs=attrs)
    trial = study.ask()  # pops the queued trial
    assert trial.user_attrs == attrs
    with pytest.raises(Surplus):
        _objective(target=1)._check_surplus(trial)
    study.tell(trial, state=TrialState.FAIL)
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 1
    assert waiting[0].user_attrs == attrs
    assert waiting[0].system_attrs["fixed_params"] == params
    assert study.trials[trial.number].user_attrs["fail_reason"] == SURPLUS


def test_a_popped_retry_is_put_back_with_its_params():
    # a dead worker's trial comes back as WAITING with its params set (no fixed_params)
    study = _study_with_one_finished()
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING, params={"x": 1.0}, distributions={"x": FloatDistribution(0, 2)},
        user_attrs={"warm_start": "ref9902@4k"}, system_attrs={"failed_trial": 0}))
    trial = study.ask()
    with pytest.raises(Surplus):
        _objective(target=1)._check_surplus(trial)
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].system_attrs["fixed_params"] == {"x": 1.0}
    assert waiting[0].user_attrs == {"warm_start": "ref9902@4k"}


def test_a_fresh_draw_is_not_queued():
    study = _study_with_one_finished()
    trial = study.ask()
    with pytest.raises(Surplus):
        _objective(target=1)._check_surplus(trial)
    assert not study.get_trials(states=(TrialState.WAITING,))


def test_below_the_target_nothing_happens():
    study = _study_with_one_finished()
    study.enqueue_trial({}, user_attrs={"reference": "ref6016"})
    trial = study.ask()
    _objective(target=2)._check_surplus(trial)  # no raise
    assert not study.get_trials(states=(TrialState.WAITING,))
    assert "fail_reason" not in study.trials[trial.number].user_attrs
