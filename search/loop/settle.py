"""Settling the trial a worker leaves behind when a run stops mid-trial (Ctrl-C, SIGTERM, a write
the machine refused): marked FAIL with the reason and queued again, so the next run starts with
it; and the one line that says so."""

from __future__ import annotations

import contextlib

import optuna
from optuna.trial import TrialState

from search.config import SearchConfig
from search.loop.objective import INTERRUPTED, stopped_by
from search.store.faults import WriteFault
from search.store.study import n_finished, requeue

__all__ = ["settle_fault", "settle_interrupted", "trial_of"]


def settle_fault(study: optuna.Study, number: int | None, a: SearchConfig,
                 fault: WriteFault) -> WriteFault:
    """Settle the trial a refused write stopped as for Ctrl-C (FAIL with a reason, queued again)
    where the storage still takes writes; the one line: the fault, the trial, how to resume."""
    note = ""
    with contextlib.suppress(Exception):  # what the storage refuses, the rerun settles
        study._storage.remove_session()  # the refused write's transaction: roll it back first
        t = trial_of(study, number)
        if t is not None and t.state == TrialState.RUNNING:
            note = f"trial {t.number} left RUNNING (the rerun queues it again); "
            # new rows first, FAIL last: where the disk refuses new rows, the trial stays
            # RUNNING and the rerun's heartbeat check fails it and queues it again
            study._storage.set_trial_user_attr(t._trial_id, "fail_reason", stopped_by(fault))
            requeue(study, t)
            study.tell(t.number, state=TrialState.FAIL)
            note = f"trial {t.number} marked FAIL and queued again; "
    try:
        done = f"{n_finished(study)} of {a.n_trials} trials finished; "
    except Exception:  # the storage cannot even be read: the rerun will tell
        done = ""
    return fault.followed_by(f"{note}{done}once it can be written, rerun the same command to "
                             f"resume study {a.name!r}")


def settle_interrupted(study: optuna.Study, number: int | None) -> str:
    """Mark the trial this worker was running FAIL (if Ctrl-C landed outside the objective) and
    queue it again, so that the next run starts with it. SIGTERM is settled the same way; its
    fail_reason stays the Ctrl-C one, which says what matters: queued again for the next run."""
    t = trial_of(study, number)
    if t is None:
        return ""
    if t.state == TrialState.RUNNING:
        study._storage.set_trial_user_attr(t._trial_id, "fail_reason", INTERRUPTED)
        study.tell(t.number, state=TrialState.FAIL)
        t = trial_of(study, number)
    if t is None or t.state != TrialState.FAIL or t.user_attrs.get("fail_reason") != INTERRUPTED:
        return ""
    requeue(study, t)
    return f"trial {t.number} marked FAIL and queued again; "


def trial_of(study: optuna.Study, number: int | None) -> optuna.trial.FrozenTrial | None:
    if number is None:
        return None
    return next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
