"""search.store.immediate: a queued trial is popped by exactly one of several workers (SQLite)."""

from __future__ import annotations

import collections
import multiprocessing as mp
from pathlib import Path

import optuna
import pytest

from search.store.study import open_storage

N_QUEUED, N_WORKERS = 40, 4


def _pop_all(url: str, start: mp.synchronize.Event, out: mp.Queue) -> None:
    """One worker process: ask until the queue is empty, reporting the queued trials it got."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name="q", storage=open_storage(url, heartbeat=False))
    start.wait()
    got = []
    while True:
        t = study.ask()
        fixed = study._storage.get_trial(t._trial_id).system_attrs.get("fixed_params", {})
        if "slot" not in fixed:  # the queue was empty: a new trial
            break
        got.append(fixed["slot"])
    out.put(got)


@pytest.mark.slow
def test_every_queued_trial_is_popped_by_exactly_one_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    study = optuna.create_study(study_name="q", storage=open_storage(url, heartbeat=False))
    for i in range(N_QUEUED):
        study.enqueue_trial({"slot": i})
    ctx = mp.get_context("spawn")  # separate processes, as --jobs workers are
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_pop_all, args=(url, start, out)) for _ in range(N_WORKERS)]
    for p in procs:
        p.start()
    start.set()
    pops = [slot for _ in procs for slot in out.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
    twice = [s for s, n in collections.Counter(pops).items() if n > 1]
    assert not twice, f"queued trials popped by two workers: {twice}"
    assert sorted(pops) == list(range(N_QUEUED))
