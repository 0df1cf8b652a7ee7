"""Add user attrs to trials that have already finished (the test-set scores of `pareto --evaluate`).

Optuna refuses every write to a finished trial (``UpdateFinishedTrialError``), yet the test scores
can only exist after the search, and they belong on the trials: that is where the dashboard, the
CSV and the report look. So this one module writes the ``trial_user_attributes`` rows of an RDB
storage (SQLite, PostgreSQL) directly through Optuna's own ORM model, with the JSON encoding Optuna
uses, in one transaction per trial. Values and states are never touched, so the front cannot move.
Journal storages have no such table and are refused with a one-line error.
"""

from __future__ import annotations

import json
from typing import Any

import optuna
from optuna.storages import RDBStorage

from search.errors import UserError

__all__ = ["rdb_backend", "reload", "set_finished_attrs"]


def rdb_backend(study: optuna.Study) -> RDBStorage:
    """The RDB storage under ``study`` (Optuna wraps it in a cache), or a one-line UserError."""
    storage = study._storage  # no public accessor; the study object always has it
    backend = storage
    if not isinstance(backend, RDBStorage):  # optuna's _CachedStorage wraps the RDB one
        backend = getattr(storage, "_backend", None)
    if not isinstance(backend, RDBStorage):
        raise UserError(
            f"study {study.study_name!r} uses {type(storage).__name__}: test scores are stored on "
            "finished trials, which needs a sqlite:/// or postgresql:// storage"
        )
    return backend


def set_finished_attrs(
    study: optuna.Study, trial: optuna.trial.FrozenTrial, attrs: dict[str, Any]
) -> None:
    """Set (insert or overwrite) user attrs of a finished trial: all of them, or none on error."""
    from optuna.storages._rdb import models  # the ORM Optuna itself writes these rows with

    backend = rdb_backend(study)
    model = models.TrialUserAttributeModel
    session = backend.scoped_session()
    try:
        for key, value in attrs.items():
            text = json.dumps(value)  # as RDBStorage.set_trial_user_attr encodes it
            row = (session.query(model)
                   .filter(model.trial_id == trial._trial_id, model.key == key).one_or_none())
            if row is None:
                session.add(model(trial_id=trial._trial_id, key=key, value_json=text))
            else:
                row.value_json = text
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


def reload(study: optuna.Study) -> optuna.Study:
    """The same study through a fresh cache: Optuna caches finished trials and would not see the
    attrs written above."""
    return optuna.load_study(study_name=study.study_name, storage=rdb_backend(study))
