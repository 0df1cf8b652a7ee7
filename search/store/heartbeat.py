"""Heartbeats for every storage a search writes, so that no dead worker's trial stays RUNNING.

A running trial beats every `interval` seconds; a trial silent for `grace` seconds is declared FAIL
by the next worker that looks (Optuna's ``fail_stale_trials``, run before each trial and while a
worker waits), and RetryHeartbeatStaleTrialCallback queues a copy with the same parameters.
Interval and grace come from $NAS_MNIST_HEARTBEAT_S and $NAS_MNIST_GRACE_S (defaults below).

Two gaps in Optuna 5 are closed here by hand (it has no option for either):
- RDBStorage never declares stale a RUNNING trial without any heartbeat, and a trial's first beat
  comes only when its objective starts, after the sampler's work: a worker killed in between would
  leave its trial RUNNING for ever. Such a trial is stale once this process has seen it for the
  grace period without a beat (measured on this process's clock, so no cross-host comparison).
- JournalStorage has no heartbeats at all: here a beat is a trial system attr holding the worker's
  wall clock, so hosts sharing a journal file need clocks synced to well within the grace period.

A trial declared stale gets a ``fail_reason`` (``no heartbeat for N s (worker gone)``), like a
Ctrl-C'd one. It is written just before Optuna marks the trial FAIL, while the trial still takes
writes; its queued copy does not inherit it.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import FrozenTrial, TrialState

from search.errors import UserError
from search.store.faults import storage_fault

__all__ = [
    "GRACE_S", "HEARTBEAT_S", "MAX_RETRY", "HeartbeatJournalStorage", "HeartbeatRDBStorage",
    "RetryStaleTrial", "heartbeat_kwargs", "heartbeat_settings", "stale_reason",
]

HEARTBEAT_S = 10  # default seconds between a running trial's heartbeats
GRACE_S = 30  # default seconds without a heartbeat after which a RUNNING trial is declared FAIL
MAX_RETRY = 2  # re-enqueues of a trial whose worker died

StaleCallback = Callable[[optuna.Study, FrozenTrial], None]


def stale_reason(grace: float) -> str:
    """The fail_reason of a trial whose worker stopped beating."""
    return f"no heartbeat for {grace:g} s (worker gone)"


def _mark_stale(storage: optuna.storages.BaseStorage, trial_ids: list[int], grace: float) -> None:
    for tid in trial_ids:
        try:
            storage.set_trial_user_attr(tid, "fail_reason", stale_reason(grace))
        except UpdateFinishedTrialError:
            pass  # another worker got there first; it wrote the same reason


class RetryStaleTrial:
    """Optuna's RetryHeartbeatStaleTrialCallback, minus the dead run's fail_reason on the copy."""

    def __init__(self, max_retry: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retry)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        trial.user_attrs.pop("fail_reason", None)  # a private deep copy (fail_stale_trials')
        self._retry(study, trial)


def heartbeat_settings() -> tuple[int, int]:
    """(interval, grace) in seconds, from the environment or the defaults."""
    out = []
    for var, default in (("NAS_MNIST_HEARTBEAT_S", HEARTBEAT_S), ("NAS_MNIST_GRACE_S", GRACE_S)):
        raw = os.environ.get(var, "").strip()
        try:
            v = int(raw) if raw else default
        except ValueError:
            v = 0
        if v < 1:
            raise UserError(f"${var} must be a whole number of seconds >= 1, got {raw!r}")
        out.append(v)
    interval, grace = out
    if grace <= interval:
        raise UserError(f"$NAS_MNIST_GRACE_S ({grace}) must exceed the heartbeat ({interval})")
    return interval, grace


def heartbeat_kwargs() -> dict[str, Any]:
    """RDBStorage's heartbeat arguments: interval, grace and the retry callback."""
    interval, grace = heartbeat_settings()
    return {"heartbeat_interval": interval, "grace_period": grace,
            "heartbeat_stale_trial_callback": RetryStaleTrial(MAX_RETRY)}


class HeartbeatRDBStorage(RDBStorage):
    """RDBStorage that also declares stale a RUNNING trial which never beat (see module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unbeaten_since: dict[int, float] = {}  # trial id -> when this process first saw it

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            super().record_heartbeat(trial_id)
        except Exception as e:
            # a full disk: the main thread's next write reports it in one line; a traceback from
            # this thread would only add noise (and a missed beat only shortens the grace period)
            if storage_fault(e) is None:
                raise

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        stale = super()._get_stale_trial_ids(study_id)
        now = time.monotonic()
        seen = self._unbeaten_since
        self._unbeaten_since = {t: seen.get(t, now) for t in self._running_unbeaten(study_id)}
        grace = self.grace_period or 2 * (self.heartbeat_interval or 0)
        stale += [t for t, t0 in self._unbeaten_since.items() if now - t0 > grace]
        _mark_stale(self, stale, grace)
        return stale

    def _running_unbeaten(self, study_id: int) -> list[int]:
        # Optuna's own tables, read the way its _get_stale_trial_ids reads them.
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session

        trial, beat = models.TrialModel, models.TrialHeartbeatModel
        with _create_scoped_session(self.scoped_session) as session:
            rows = (
                session.query(trial.trial_id)
                .outerjoin(beat, beat.trial_id == trial.trial_id)
                .filter(trial.study_id == study_id, trial.state == TrialState.RUNNING,
                        beat.trial_id.is_(None))
                .all()
            )
        return [r[0] for r in rows]


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """A journal-file storage with heartbeats (see module doc)."""

    _KEY = "nas_mnist:heartbeat"

    def __init__(self, backend: JournalFileBackend, heartbeat_interval: int, grace_period: int,
                 heartbeat_stale_trial_callback: StaleCallback) -> None:
        super().__init__(backend)
        self._hb_interval, self._hb_grace = heartbeat_interval, grace_period
        self._hb_callback = heartbeat_stale_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            self.set_trial_system_attr(trial_id, self._KEY, time.time())
        except UpdateFinishedTrialError:
            pass  # another worker declared this trial dead; nothing left to keep alive
        except OSError as e:  # a full disk: as in HeartbeatRDBStorage.record_heartbeat
            if storage_fault(e) is None:
                raise

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        stale = []
        for t in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            # a retried trial inherits its predecessor's beat attr: count from its own start too
            start = t.datetime_start.timestamp() if t.datetime_start else now
            last = max(float(t.system_attrs.get(self._KEY, 0.0)), start)
            if now - last > self._hb_grace:
                stale.append(t._trial_id)
        _mark_stale(self, stale, self._hb_grace)
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self._hb_interval

    def get_heartbeat_stale_trial_callback(self) -> StaleCallback | None:
        return self._hb_callback
