"""A worker that asks for a trial after the study reached its target (two workers raced past the
loop's check) stands down (Surplus) without writing anything, and its trial goes back in the queue
as it was (unstart): WAITING, not FAIL, so nothing reads as a failure; a rerun with a higher target
pops it first."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.storages._rdb import models
from optuna.trial import TrialState

from search.loop.objective import Objective, Surplus
from search.loop.pruner import ParetoPruner
from search.store.study import open_storage, unstart


def _objective(target: int) -> Objective:
    # _check_surplus reads only the study and the target: no data, no training
    return Objective(budget=10_000, epochs=1, seed=0, data=None, target=target,
                     pruner=ParetoPruner())


def _study_with_one_finished(tmp_path) -> optuna.Study:
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}")  # with heartbeats, as a search's
    study = optuna.create_study(directions=["maximize", "minimize"], storage=storage)
    done = study.ask()
    study.tell(done, [99.0, 5000])
    return study


def _heartbeats(study: optuna.Study, trial_id: int) -> int:
    backend = study._storage._backend
    with backend.scoped_session() as session:
        return session.query(models.TrialHeartbeatModel).filter(
            models.TrialHeartbeatModel.trial_id == trial_id).count()


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed")  # our study.ask() below
@pytest.mark.parametrize("queued", [
    ({"size": 4000.0}, {"warm_start": "ref10224@4k"}),
    ({}, {"reference": "ref6016"}),
    (None, {}),  # a fresh draw
], ids=["warm-start", "reference", "fresh-draw"])
def test_a_surplus_trial_goes_back_in_the_queue_as_it_was(tmp_path, queued):
    params, attrs = queued
    study = _study_with_one_finished(tmp_path)
    if params is not None:
        study.enqueue_trial(params, user_attrs=attrs)
    trial = study.ask()  # pops the queued trial, or creates a new one
    study._storage.record_heartbeat(trial._trial_id)  # the worker's heartbeat thread did
    with pytest.raises(Surplus) as e:
        _objective(target=1)._check_surplus(trial)
    assert (e.value.number, e.value.trial_id) == (trial.number, trial._trial_id)
    unstart(study, e.value.trial_id)

    t = study.trials[trial.number]
    assert t.state == TrialState.WAITING and t.datetime_start is None
    assert t.user_attrs == attrs and "fail_reason" not in t.user_attrs  # nothing reads as failed
    assert t.system_attrs.get("fixed_params") == params
    assert _heartbeats(study, trial._trial_id) == 0  # else it would look stale once popped again
    assert not study.get_trials(states=(TrialState.FAIL,))
    assert len(study.trials) == 2  # no copy: the trial itself waits
    again = study.ask()  # a rerun with a higher target pops the same trial first
    assert again.number == trial.number and again.user_attrs == attrs


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed")
def test_a_popped_retry_keeps_its_params(tmp_path):
    # a dead worker's trial comes back as WAITING with its params set (no fixed_params)
    study = _study_with_one_finished(tmp_path)
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING, params={"x": 1.0}, distributions={"x": FloatDistribution(0, 2)},
        user_attrs={"warm_start": "ref9902@4k"}, system_attrs={"failed_trial": 0}))
    trial = study.ask()
    with pytest.raises(Surplus):
        _objective(target=1)._check_surplus(trial)
    unstart(study, trial._trial_id)
    t = study.trials[trial.number]
    assert t.state == TrialState.WAITING and t.params == {"x": 1.0}
    assert t.user_attrs == {"warm_start": "ref9902@4k"} and t.system_attrs["failed_trial"] == 0


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed")
def test_below_the_target_nothing_happens(tmp_path):
    study = _study_with_one_finished(tmp_path)
    study.enqueue_trial({}, user_attrs={"reference": "ref6016"})
    trial = study.ask()
    _objective(target=2)._check_surplus(trial)  # no raise
    assert study.trials[trial.number].state == TrialState.RUNNING

