"""Crash-safe resume: a search killed with SIGKILL or stopped with Ctrl-C (SIGINT) loses nothing
finished, leaves no trial RUNNING for ever, and the same command run again reaches the target."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.storages import fail_stale_trials
from optuna.trial import TrialState

from search.cli import main
from search.errors import UserError
from search.loop.objective import INTERRUPTED
from search.store.study import heartbeat_settings, open_storage, open_study
from space import sample

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
NAME = "crash"


def _argv(mnist_root: Path, study_dir: Path, n_trials: int) -> list[str]:
    return [
        sys.executable, "-m", "search.cli", "search", "--budget", "2000", "--n-trials",
        str(n_trials), "--epochs", "1", "--train-subset", "500", "--val-size", "200",
        "--data-dir", str(mnist_root), "--study-dir", str(study_dir), "--study-name", NAME,
        "--device", "cpu", "--no-warm-start", "--no-references", "--quiet",
        "--jobs", "1",  # one in-process worker: its own trial is what these tests stop
    ]


# heartbeat every second, stale after 2 s: a dead worker's trial is retried quickly
FAST_BEAT = {"NAS_MNIST_HEARTBEAT_S": "1", "NAS_MNIST_GRACE_S": "2"}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAS_MNIST_")}
    # PYTHONFAULTHANDLER: a worker that hangs is stopped with SIGABRT and shows where it hung
    return env | {"OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"} | FAST_BEAT


def _finish(proc: subprocess.Popen, timeout: float) -> str:
    """Wait for the worker to exit; its stderr. A hung worker fails the test with its stacks."""
    try:
        return proc.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        err = proc.communicate(timeout=30)[1]
        pytest.fail(f"worker did not exit within {timeout} s:\n{err[-6000:]}")


def _rerun(argv: list[str], monkeypatch) -> int:
    """The same command again, in this process (a second interpreter start costs seconds)."""
    for k, v in FAST_BEAT.items():
        monkeypatch.setenv(k, v)
    return main(argv[3:])


def _states(db: Path) -> tuple[dict[int, str], set[int]]:
    """({trial number: state}, numbers of trials whose training started), read straight from the
    SQLite file (read-only, no Optuna)."""
    if not db.is_file():
        return {}, set()
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            states = dict(con.execute("SELECT number, state FROM trials").fetchall())
            training = con.execute(
                "SELECT t.number FROM trials t JOIN trial_user_attributes a"
                " ON a.trial_id = t.trial_id WHERE a.key = 'config'").fetchall()
            return states, {n for (n,) in training}
    except sqlite3.OperationalError:  # tables not created yet
        return {}, set()


def _start_and_wait_for_running(argv: list[str], db: Path, min_complete: int):
    """Start a search; return (process, number of a RUNNING trial) once `min_complete` trials are
    COMPLETE and another one is RUNNING with its candidate drawn (training)."""
    proc = subprocess.Popen(argv, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        s, training = _states(db)
        running = [n for n, st in s.items() if st == "RUNNING" and n in training]
        if sum(st == "COMPLETE" for st in s.values()) >= min_complete and running:
            return proc, running[0]
        if proc.poll() is not None:
            pytest.fail(f"search ended before a trial was caught running: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no trial was seen RUNNING in time")


def _study(study_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name=NAME, storage=f"sqlite:///{study_dir / NAME}.db")


@pytest.mark.slow
def test_sigkill_then_rerun_resumes_and_retries_the_killed_trial(mnist_root, tmp_path,
                                                                 monkeypatch):
    db = tmp_path / f"{NAME}.db"
    argv = _argv(mnist_root, tmp_path, 3)
    proc, killed = _start_and_wait_for_running(argv, db, min_complete=1)
    os.kill(proc.pid, signal.SIGKILL)
    _finish(proc, 60)
    before = {t.number: (t.state, t.values, t.user_attrs.get("config"))
              for t in _study(tmp_path).get_trials()}
    assert before[killed][0] == TrialState.RUNNING  # SIGKILL left it running: no cleanup ran
    done_before = {n: v for n, v in before.items() if v[0] in FINISHED}
    assert len(done_before) >= 1

    assert _rerun(argv, monkeypatch) == 0
    study = _study(tmp_path)
    after = {t.number: t for t in study.get_trials()}
    for n, (state, values, _) in done_before.items():  # nothing finished was lost or changed
        assert (after[n].state, after[n].values) == (state, values)
    assert after[killed].state == TrialState.FAIL  # declared dead by its stale heartbeat
    assert after[killed].user_attrs["fail_reason"] == "no heartbeat for 2 s (worker gone)"
    retries = [t for t in after.values() if t.system_attrs.get("failed_trial") == killed]
    assert len(retries) == 1 and retries[0].state in FINISHED
    assert "fail_reason" not in retries[0].user_attrs
    assert retries[0].user_attrs["config"] == before[killed][2]  # the same candidate, rerun
    assert len(study.get_trials(states=FINISHED)) == 3  # exactly the target, no surplus
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    assert (tmp_path / NAME / "pareto.csv").is_file()


@pytest.mark.slow
def test_sigint_marks_the_trial_requeues_it_and_says_how_to_resume(mnist_root, tmp_path,
                                                                   monkeypatch):
    db = tmp_path / f"{NAME}.db"
    argv = _argv(mnist_root, tmp_path, 3)
    proc, stopped = _start_and_wait_for_running(argv, db, min_complete=1)
    os.kill(proc.pid, signal.SIGINT)
    err = _finish(proc, 60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[-1].startswith(f"interrupted: trial {stopped} marked FAIL and queued again; ")
    assert lines[-1].endswith(f"Rerun the same command to resume study {NAME!r} "
                              f"(sqlite:///{db}).")
    study = _study(tmp_path)
    t = {x.number: x for x in study.get_trials()}
    assert t[stopped].state == TrialState.FAIL
    assert t[stopped].user_attrs["fail_reason"] == INTERRUPTED
    queued = [x for x in t.values() if x.state == TrialState.WAITING]
    assert len(queued) == 1 and queued[0].system_attrs["failed_trial"] == stopped
    assert queued[0].params == t[stopped].params
    assert "fail_reason" not in queued[0].user_attrs
    assert not study.get_trials(states=(TrialState.RUNNING,))
    # the front so far is written after the trial was settled, as at a normal end
    assert (tmp_path / NAME / "pareto.csv").is_file() and (tmp_path / NAME / "pareto.png").is_file()

    assert _rerun(argv, monkeypatch) == 0
    study = _study(tmp_path)
    assert len(study.get_trials(states=FINISHED)) == 3
    rerun = study.trials[queued[0].number]
    assert rerun.state in FINISHED and "fail_reason" not in rerun.user_attrs
    assert rerun.user_attrs["config"] == t[stopped].user_attrs["config"]


@pytest.mark.slow
def test_sigterm_is_settled_like_ctrl_c(mnist_root, tmp_path):
    # `kill PID`, a batch scheduler, docker stop: before, the process died at once (exit 143)
    # and left its trial RUNNING until another worker's heartbeat check
    db = tmp_path / f"{NAME}.db"
    proc, stopped = _start_and_wait_for_running(_argv(mnist_root, tmp_path, 3), db, min_complete=1)
    os.kill(proc.pid, signal.SIGTERM)
    err = _finish(proc, 60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    last = [ln for ln in err.splitlines() if ln.strip()][-1]
    assert last.startswith(f"terminated (SIGTERM): trial {stopped} marked FAIL and queued again; ")
    t = {x.number: x for x in _study(tmp_path).get_trials()}
    assert t[stopped].state == TrialState.FAIL
    assert t[stopped].user_attrs["fail_reason"] == INTERRUPTED
    assert [x.system_attrs["failed_trial"] for x in t.values()
            if x.state == TrialState.WAITING] == [stopped]
    assert (tmp_path / NAME / "pareto.csv").is_file()


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed")  # study.ask() by hand
def test_journal_storage_has_heartbeats(monkeypatch, tmp_path):
    monkeypatch.setenv("NAS_MNIST_HEARTBEAT_S", "1")
    monkeypatch.setenv("NAS_MNIST_GRACE_S", "2")
    storage = open_storage(f"journal:///{tmp_path}/study.log")
    study = open_study(storage, "j", seed=0, settings={})
    dead, alive = study.ask(), study.ask()
    for t in (dead, alive):
        sample(t, 3000, 1)
        storage.record_heartbeat(t._trial_id)
    assert storage._get_stale_trial_ids(study._study_id) == []
    time.sleep(2.3)
    storage.record_heartbeat(alive._trial_id)  # this worker is still beating
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        fail_stale_trials(study)
    trials = study.get_trials()
    assert trials[dead.number].state == TrialState.FAIL
    assert trials[dead.number].user_attrs["fail_reason"] == "no heartbeat for 2 s (worker gone)"
    assert trials[alive.number].state == TrialState.RUNNING
    assert "fail_reason" not in trials[alive.number].user_attrs
    retry = [t for t in trials if t.state == TrialState.WAITING]
    assert len(retry) == 1 and retry[0].params == trials[dead.number].params
    assert "fail_reason" not in retry[0].user_attrs
    assert retry[0].system_attrs["failed_trial"] == dead.number


@pytest.mark.parametrize(("env", "msg"), [
    ({"NAS_MNIST_HEARTBEAT_S": "x"}, "$NAS_MNIST_HEARTBEAT_S must be a whole number of seconds "
                                     ">= 1, got 'x'"),
    ({"NAS_MNIST_GRACE_S": "0"}, "$NAS_MNIST_GRACE_S must be a whole number of seconds >= 1, "
                                 "got '0'"),
    ({"NAS_MNIST_HEARTBEAT_S": "5", "NAS_MNIST_GRACE_S": "5"},
     "$NAS_MNIST_GRACE_S (5) must exceed the heartbeat (5)"),
])
def test_heartbeat_settings_from_environment(monkeypatch, env, msg):
    for k in ("NAS_MNIST_HEARTBEAT_S", "NAS_MNIST_GRACE_S"):
        monkeypatch.delenv(k, raising=False)
    assert heartbeat_settings() == (10, 30)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(UserError) as e:
        heartbeat_settings()
    assert str(e.value) == msg
