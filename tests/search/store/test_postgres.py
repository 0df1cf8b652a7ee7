"""Scale-out: several `nas-mnist search` workers on one study held in PostgreSQL.

Needs a server: `. .ci/postgres.sh` starts a throwaway one on 127.0.0.1 and exports
NAS_MNIST_TEST_PG. Without it these tests skip, saying why; where CI=true they fail instead, since
CI must run them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from search.config import SearchConfig
from search.loop.run import prepare_study, work
from search.store.study import redact, sqlalchemy_url
from space import sample
from space.warmstart import warm_starts

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # a server, worker processes

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
WORKERS = 3
N_TRIALS = 4  # fewer than the 4 warm starts + ref6016 a budget-7000 study queues


def test_sqlalchemy_url_uses_psycopg3():
    assert sqlalchemy_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert sqlalchemy_url("postgres://u:pw@h:5433/db") == "postgresql+psycopg://u:pw@h:5433/db"
    assert sqlalchemy_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert sqlalchemy_url("sqlite:///x.db") == "sqlite:///x.db"
    assert redact("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"


@pytest.fixture(scope="module")
def pg_url() -> str:
    url = os.environ.get("NAS_MNIST_TEST_PG")
    problem = "NAS_MNIST_TEST_PG is not set" if not url else _unreachable(url)
    if problem is None:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem}: CI must run the PostgreSQL tests (.ci/run sources "
                    ".ci/postgres.sh)")
    pytest.skip(f"{problem} (`. .ci/postgres.sh` starts a throwaway PostgreSQL)")


def _unreachable(url: str) -> str | None:
    try:
        import psycopg
    except ModuleNotFoundError:
        return "psycopg is not installed (pip install 'nas-mnist[postgres]')"
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except Exception as e:
        return f"PostgreSQL at {redact(url)} is unreachable ({str(e).splitlines()[0]})"
    return None


def _front(trials: list[optuna.trial.FrozenTrial]) -> set[int]:
    """Non-dominated COMPLETE trials (accuracy up, params down), computed by hand."""
    done = [t for t in trials if t.state == TrialState.COMPLETE]

    def dominates(a, b) -> bool:
        return (a.values[0] >= b.values[0] and a.values[1] <= b.values[1]
                and a.values != b.values)

    return {t.number for t in done if not any(dominates(o, t) for o in done)}


def test_concurrent_workers_share_one_study(pg_url, mnist_root, tiny_data, tmp_path):
    # tiny_data has read mnist_root once, unpacking its .gz files: workers starting together
    # would race to unpack them (search/data.py extracts in place, not atomically)
    name = f"scale-{uuid.uuid4().hex[:8]}"
    exe = shutil.which("nas-mnist")
    cmd = [exe] if exe else [sys.executable, "-m", "search.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAS_MNIST_")}
    env["OMP_NUM_THREADS"] = "1"
    hosts = [tmp_path / f"host{i}" for i in range(WORKERS)]  # each worker its own studies folder
    procs = [subprocess.Popen(
        [*cmd, "search", "--storage", pg_url, "--study-name", name, "--budget", "7000",
         "--n-trials", str(N_TRIALS), "--epochs", "1", "--train-subset", "300", "--val-size",
         "200", "--data-dir", str(mnist_root), "--device", "cpu", "--study-dir", str(h),
         "--references", "--quiet"],  # the references too: each is queued once, by one worker
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for h in hosts]
    deadline = time.monotonic() + 400
    outs = [p.communicate(timeout=max(1, deadline - time.monotonic())) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err

    study = optuna.load_study(study_name=name, storage=sqlalchemy_url(pg_url))
    trials = study.get_trials()
    finished = [t for t in trials if t.state in FINISHED]
    assert len(finished) == N_TRIALS  # exactly the target, over all workers
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    # the new study queued more warm starts and references than the target: the rest stay queued,
    # never started, after every finished trial, for a rerun with a higher target
    waiting = [t for t in trials if t.state == TrialState.WAITING]
    n_warm = len(warm_starts(7000, SearchConfig.warm_plan))
    assert len(waiting) == n_warm + 1 - N_TRIALS > 0  # +1: ref6016
    assert all(t.datetime_start is None and ("warm_start" in t.user_attrs or "reference"
               in t.user_attrs) for t in waiting)
    assert min(t.number for t in waiting) > max(t.number for t in finished)
    # nothing failed: a worker that raced past the target put its popped trial back unstarted
    assert not [t for t in trials if t.state == TrialState.FAIL]
    assert [t.user_attrs.get("reference") for t in trials].count("ref6016") == 1  # queued once
    configs = [json.dumps(t.user_attrs["config"], sort_keys=True) for t in finished]
    assert len(set(configs)) == len(configs)  # no candidate was drawn twice

    front = _front(trials)
    assert front == {t.number for t in study.best_trials}
    for h in hosts:  # every worker wrote the final front
        assert set(pd.read_csv(h / name / "pareto.csv")["trial"]) == front
    for t in trials:  # each weights file lies on the host whose worker ran the trial
        if t.state == TrialState.COMPLETE:
            aid = t.user_attrs["weights_artifact"]
            assert sum((h / name / "artifacts" / aid).is_file() for h in hosts) == 1


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed")  # study.ask() by hand
@pytest.mark.parametrize("beats", [1, 0], ids=["died-after-a-beat", "died-before-its-first-beat"])
def test_dead_workers_trial_is_taken_over(pg_url, monkeypatch, tmp_path, mnist_root, tiny_data,
                                          beats):
    monkeypatch.setenv("NAS_MNIST_HEARTBEAT_S", "1")
    monkeypatch.setenv("NAS_MNIST_GRACE_S", "2")
    a = SearchConfig(budget=2000, n_trials=2, epochs=1, storage=pg_url, study_dir=tmp_path,
                     study_name=f"dead-{uuid.uuid4().hex[:8]}", data_dir=str(mnist_root),
                     device="cpu", val_size=500, train_subset=1000, quiet=True, warm_start=False,
                     references=False)
    study = prepare_study(a, data=tiny_data)
    dead = study.ask()
    sample(dead, a.budget, a.epochs)
    for _ in range(beats):
        study._storage.record_heartbeat(dead._trial_id)
    work(a, study, data=tiny_data)
    trials = study.get_trials()
    assert trials[dead.number].state == TrialState.FAIL
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retry) == 1 and retry[0].state in FINISHED
    assert retry[0].params == trials[dead.number].params
    assert len(study.get_trials(states=FINISHED)) == 2


def test_workers_starting_together_on_a_new_database_all_open_it(pg_url, open_together):
    # Optuna creates its tables check-then-CREATE; without the advisory lock in
    # search.store.study some
    # workers died with "duplicate key value violates unique constraint pg_type_typname_nsp_index"
    import psycopg

    base = pg_url.rsplit("/", 1)[0]
    for _ in range(3):
        db = f"fresh_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {db}")
        assert open_together(f"{base}/{db}", 4) == []
