"""Per-epoch validation accuracy stored as intermediate values of multi-objective trials."""

from __future__ import annotations

import math

import optuna
import pytest

from search.store.curves import record_curve


@pytest.mark.parametrize("url", ["sqlite", "journal"])
def test_multi_objective_trial_keeps_its_curve(tmp_path, url):
    storage = (f"sqlite:///{tmp_path / 's.db'}" if url == "sqlite" else
               optuna.storages.JournalStorage(
                   optuna.storages.journal.JournalFileBackend(str(tmp_path / "s.log"))))
    study = optuna.create_study(directions=["maximize", "minimize"], storage=storage)
    trial = study.ask()
    with pytest.raises(NotImplementedError):  # why the storage API is used instead
        trial.report(1.0, 1)
    record_curve(trial, [50.0, 90.5, math.nan])
    study.tell(trial, [90.5, 1000])
    got = study.trials[0].intermediate_values
    assert got[1] == 50.0 and got[2] == 90.5 and math.isnan(got[3])


def test_why_pruned_trials_get_none():
    """Optuna 5's TPE cannot sample once a pruned multi-objective trial has intermediate values:
    if this starts passing sampling, pruned trials could keep their curves too."""
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.TPESampler(n_startup_trials=1, seed=0))
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1), n_trials=1)
    pruned = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    record_curve(pruned, [10.0])
    study.tell(pruned, state=optuna.trial.TrialState.PRUNED)
    with pytest.raises(RuntimeError, match="single direction"):
        study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
