"""The study's samplers: TPE (the default) and random search, both seeded per trial, and the
stratified draw of the net's size."""

from __future__ import annotations

import copy
import random
import warnings
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.config import SAMPLERS, SearchConfig
from search.errors import UserError
from space import size_for

__all__ = ["SIZE_PARAM", "make_sampler", "stratified", "with_fixed"]


class _TrialSeededTPE(optuna.samplers.TPESampler):
    """TPE whose random draws are seeded by (study seed, trial number), not one stream per process.

    Why: workers of one study share --seed, so per-process streams would make every worker draw the
    same first configurations; per-trial seeds keep a one-worker study reproducible and give
    concurrent workers different draws. Falls back to fresh entropy if Optuna's internals move.
    """

    def __init__(self, seed: int, floor: _Floor, **kw: Any) -> None:
        super().__init__(seed=seed, **kw)
        self._base_seed, self._floor = seed, floor

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        try:
            self._rng.rng.seed([self._base_seed % 2**32, trial.number, 0])
            self._random_sampler._rng.rng.seed([self._base_seed % 2**32, trial.number, 1])
        except AttributeError:
            self.reseed_rng()
        super().before_trial(study, trial)

    # The net's size is not left to TPE: in every CPU study it drifted to the smallest nets (the
    # upper half of the budget stayed empty), while the front needs nets of every size. `size`
    # (a position on a log scale up to the budget) is instead stratified over trial numbers.
    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, Any]) -> dict[str, Any]:
        out = super().sample_relative(_CurvesHidden(study), trial, search_space)
        out.pop(SIZE_PARAM, None)  # asked when drawn, after the shape: see sample_independent
        return out

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: Any) -> Any:
        if param_name == SIZE_PARAM:
            return self._floor(stratified(trial.number, self._base_seed), trial.params)
        return super().sample_independent(_CurvesHidden(study), trial, param_name,
                                          param_distribution)


class _CurvesHidden:
    """The study as TPE should see it: pruned trials without their learning curves.

    Why: every trial stores its per-epoch validation accuracy as intermediate values (so the
    dashboard draws pruned trials' curves too), but Optuna 5.0's TPE ranks a pruned trial that has
    intermediate values with ``study.direction``, which raises "A single direction cannot be
    retrieved" in a multi-objective study (``_get_pruned_trial_score``). Without them it ranks
    every pruned trial alike, which is what it did before the curves were stored. Everything else
    is the study itself.
    """

    def __init__(self, study: optuna.Study) -> None:
        self._study = study

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(self, *args: Any, **kw: Any) -> list[FrozenTrial]:
        trials = self._study._get_trials(*args, **kw)
        if len(self._study.directions) == 1:
            return trials
        return [_without_curve(t) if t.state == TrialState.PRUNED and t.intermediate_values
                else t for t in trials]


def _without_curve(t: FrozenTrial) -> FrozenTrial:
    t = copy.copy(t)  # the storage's cached trial is shared: never change it in place
    t.intermediate_values = {}
    return t


SIZE_PARAM = "size"  # space.sampler's draw that places a net's size between its floor and budget


class _Floor:
    """Maps a size position u in [0, 1) to [s, 1), where s is the position of `min_params` on the
    drawn shape's scale (space.sampler.size_for): every net then has a size target of at least
    `min_params`. Needs the shape's draws, so `size` is the last of the net's draws."""

    def __init__(self, budget: int | None, min_params: int) -> None:
        self.budget, self.min_params = budget, min_params

    def __call__(self, u: float, params: dict[str, Any]) -> float:
        if not self.min_params or self.budget is None:
            return u
        s = size_for(params, self.budget, self.min_params)
        return s + (1.0 - s) * u


def stratified(n: int, seed: int) -> float:
    """The n-th point of a base-2 van der Corput sequence in [0, 1), rotated by the seed: trials
    n = m 2**k ... (m+1) 2**k - 1 put one net in each of 2**k equal bands of log size."""
    x, f, k = 0.0, 0.5, n
    while k:
        x, f, k = x + f * (k & 1), f / 2, k >> 1
    return (x + random.Random(seed).random()) % 1.0


class _TrialSeededRandom(optuna.samplers.RandomSampler):
    """Random search with per-trial seeds, for the same reason as _TrialSeededTPE."""

    def __init__(self, seed: int, floor: _Floor) -> None:
        super().__init__(seed=seed)
        self._base_seed, self._floor = seed, floor

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        try:
            self._rng.rng.seed([self._base_seed % 2**32, trial.number, 1])
        except AttributeError:
            self.reseed_rng()
        super().before_trial(study, trial)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: Any) -> Any:
        u = super().sample_independent(study, trial, param_name, param_distribution)
        return self._floor(u, trial.params) if param_name == SIZE_PARAM else u


def make_sampler(seed: int, kind: str = SearchConfig.sampler,
                 startup_trials: int = SearchConfig.startup_trials, *,
                 budget: int | None = None, min_params: int = 0,
                 ) -> optuna.samplers.BaseSampler:
    """The study's sampler: TPE, multivariate over grouped params, constant liar for concurrent
    workers, `startup_trials` random start-up trials, draws seeded per trial. Chosen on the front's
    hypervolume (docs/benchmarks.md, "Sampler choice"): within seed noise of NSGA-II and random,
    better nets under 2k params and fewer trials wasted on nets that do not learn. With
    `min_params` (and the study's `budget`), every drawn net's size target is at least that."""
    floor = _Floor(budget, min_params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if kind == "random":
            return _TrialSeededRandom(seed, floor)
        if kind != "tpe":
            raise UserError(f"unknown sampler {kind!r}: use {' or '.join(SAMPLERS)}")
        return _TrialSeededTPE(seed, floor, multivariate=True, group=True, constant_liar=True,
                               n_startup_trials=startup_trials)


def with_fixed(sampler: optuna.samplers.BaseSampler,
               params: dict[str, Any]) -> optuna.samplers.BaseSampler:
    """`sampler` with `params` fixed (Optuna's PartialFixedSampler): every trial suggests these
    values; the sampler draws the rest, modelling only what varies."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.PartialFixedSampler(params, sampler)
