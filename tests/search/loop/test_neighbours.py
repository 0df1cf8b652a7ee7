"""search.loop.neighbours: now and then the next trial is a local move from a front member."""

from __future__ import annotations

import dataclasses

import optuna
import pytest
from optuna.trial import TrialState

from search.config import SearchConfig
from search.loop.neighbours import NEIGHBOUR_OF, queue_neighbour
from search.store.study import FIXED_NET
from space import RECIPE_KEYS, count_params, decode, suggest

BUDGET = 10_000


def _study(n: int = 8) -> optuna.Study:
    """An in-memory study of `n` random draws told as if trained, and a reference (no params)."""
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=3))
    for i in range(n):
        trial = study.ask()
        size = count_params(decode(suggest(trial), BUDGET).net)
        study.tell(trial, [97.0 + (i * 7 % 5) / 2 + size / 10_000, size])
    study.enqueue_trial({}, user_attrs={"reference": "ref6016"})
    study.tell(study.ask(), [99.3, 6016])
    return study


def _cfg(**kw) -> SearchConfig:
    return SearchConfig(budget=BUDGET, **{"neighbours": 1.0, **kw})


def _waiting(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(states=(TrialState.WAITING,))


def test_a_neighbour_of_a_front_member_is_queued_and_runs_with_its_params() -> None:
    study = _study()
    parent = queue_neighbour(study, _cfg())
    front = {t.number: t for t in study.best_trials}
    assert parent in front and front[parent].params  # never the reference: it has no draws
    (queued,) = _waiting(study)
    assert queued.user_attrs == {NEIGHBOUR_OF: parent}
    trial = study.ask()  # the next trial pops it, as a worker's study.optimize would
    params = suggest(trial)
    assert trial.user_attrs[NEIGHBOUR_OF] == parent
    moved = {k for k in params.keys() & front[parent].params.keys()
             if params[k] != front[parent].params[k]}
    assert 1 <= len(moved) <= 2


def test_none_while_a_start_waits_nor_when_switched_off_or_random() -> None:
    study = _study()
    study.enqueue_trial(study.trials[0].params, user_attrs={"warm_start": "onepool@1.9k"})
    assert queue_neighbour(study, _cfg()) is None
    assert len(_waiting(study)) == 1
    study = _study()
    assert queue_neighbour(study, _cfg(neighbours=0.0)) is None
    assert queue_neighbour(study, _cfg(sampler="random")) is None
    assert _waiting(study) == []
    empty = optuna.create_study(directions=["maximize", "minimize"])
    assert queue_neighbour(empty, _cfg()) is None  # no front yet: the sampler draws


def test_the_share_is_drawn_from_seed_and_study_size() -> None:
    study, hits = _study(), []
    a = _cfg(neighbours=0.5)
    for _ in range(60):
        hits.append(queue_neighbour(study, a) is not None)
        trial = study.ask()  # pop what was queued, or a sampler draw; then finish it
        study.tell(trial, state=TrialState.PRUNED)
    assert 15 <= sum(hits) <= 45
    again, repeat = _study(), []
    for _ in range(60):
        repeat.append(queue_neighbour(again, a) is not None)
        again.tell(again.ask(), state=TrialState.PRUNED)
    assert repeat == hits  # same seed, same study sizes: the same choices
    other, moved = _study(), []
    for _ in range(60):
        moved.append(queue_neighbour(other, dataclasses.replace(a, seed=1)) is not None)
        other.tell(other.ask(), state=TrialState.PRUNED)
    assert moved != hits


def test_with_a_fixed_net_only_the_recipe_moves() -> None:
    study = _study()
    study.set_user_attr(FIXED_NET, {"source": "src#1@5.0k", "params": {}})
    for _ in range(10):
        parent = queue_neighbour(study, _cfg())
        (queued,) = _waiting(study)
        was = next(t for t in study.trials if t.number == parent).params
        now = queued.system_attrs["fixed_params"]
        moved = {k for k in was.keys() | now.keys() if was.get(k) != now.get(k)}
        assert moved and moved <= RECIPE_KEYS
        study.tell(study.ask(), state=TrialState.PRUNED)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_a_share_outside_0_1_is_refused(tmp_path, p: float) -> None:
    from search.errors import UserError
    from search.loop.run import validate

    with pytest.raises(UserError, match="--neighbours must be in"):
        validate(SearchConfig(neighbours=p, study_dir=tmp_path, device="cpu"))


@pytest.mark.slow
def test_a_search_runs_neighbours_and_the_pruner_hears_their_parent(tmp_path, tiny_data,
                                                                    monkeypatch) -> None:
    from search.loop.pruner import ParetoPruner
    from search.loop.run import run_search

    heard: dict[int, int | None] = {}
    check = ParetoPruner.check

    def spy(self, study, number, params, curve, epochs, parent=None):
        heard[number] = parent
        return check(self, study, number, params, curve, epochs, parent)

    monkeypatch.setattr(ParetoPruner, "check", spy)
    a = SearchConfig(budget=3000, n_trials=4, epochs=2, study_name="near", study_dir=tmp_path,
                     device="cpu", val_size=500, train_subset=1000, warm_start=False,
                     neighbours=1.0, quiet=True)
    study = run_search(a, data=tiny_data)
    first, *rest = study.trials
    assert NEIGHBOUR_OF not in first.user_attrs  # no front yet: TPE drew it
    assert rest and all(NEIGHBOUR_OF in t.user_attrs for t in rest)
    for t in rest:
        assert heard[t.number] == t.user_attrs[NEIGHBOUR_OF]  # the rung knew the parent
        was = next(p for p in study.trials if p.number == t.user_attrs[NEIGHBOUR_OF]).params
        assert 1 <= sum(was[k] != v for k, v in t.params.items() if k in was) <= 2
