"""Per-epoch validation accuracy stored as intermediate values of multi-objective trials."""

from __future__ import annotations

import math

import optuna
import pytest

from search.store.curves import record_epoch


@pytest.mark.parametrize("url", ["sqlite", "journal"])
def test_multi_objective_trial_keeps_its_curve(tmp_path, url):
    storage = (f"sqlite:///{tmp_path / 's.db'}" if url == "sqlite" else
               optuna.storages.JournalStorage(
                   optuna.storages.journal.JournalFileBackend(str(tmp_path / "s.log"))))
    study = optuna.create_study(directions=["maximize", "minimize"], storage=storage)
    trial = study.ask()
    with pytest.raises(NotImplementedError):  # why the storage API is used instead
        trial.report(1.0, 1)
    for epoch, acc in enumerate([50.0, 90.5, math.nan], start=1):
        record_epoch(trial, epoch, acc)
    study.tell(trial, [90.5, 1000])
    got = study.trials[0].intermediate_values
    assert got[1] == 50.0 and got[2] == 90.5 and math.isnan(got[3])
