"""Shared helpers for the space tests: in-memory Optuna draws, cached per (budget, seed)."""

from __future__ import annotations

from collections.abc import Callable

import optuna
import pytest

from space import Candidate, count_params, sample

optuna.logging.set_verbosity(optuna.logging.WARNING)

Draw = tuple[dict, Candidate]


def run_study(
    budget: int, n: int, sampler: optuna.samplers.BaseSampler, epochs: int = 15
) -> list[Draw]:
    """Ask/tell `n` trials in memory; each trial's value is its net's parameter count."""
    study = optuna.create_study(sampler=sampler)
    out = []
    for _ in range(n):
        trial = study.ask()
        cand = sample(trial, budget, epochs)
        study.tell(trial, float(count_params(cand.net)))
        out.append((dict(trial.params), cand))
    return out


@pytest.fixture(scope="session")
def draws() -> Callable[..., list[Draw]]:
    """draws(budget, n=200, seed=0) -> [(trial.params, Candidate)], RandomSampler, cached."""
    cache: dict[tuple[int, int, int], list[Draw]] = {}

    def _draws(budget: int, n: int = 200, seed: int = 0) -> list[Draw]:
        key = (budget, n, seed)
        if key not in cache:
            cache[key] = run_study(budget, n, optuna.samplers.RandomSampler(seed=seed))
        return cache[key]

    return _draws


@pytest.fixture(scope="session")
def study_runner() -> Callable[..., list[Draw]]:
    """run_study(budget, n, sampler, epochs=15), uncached, for determinism checks."""
    return run_study
