"""search.loop.jobs' parent under Ctrl-C and SIGTERM, with stand-in workers (no training): the
signal is forwarded, escalated when asked again or ignored, and the parent never hangs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest

import search.loop.jobs as jobs
from search.config import SearchConfig
from search.loop.interrupt import Signals

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

# A stand-in worker: on the first SIGINT or SIGTERM it takes `settle` seconds (settling its
# trial) and exits 130; a second signal meanwhile leaves at once (143), as search.loop.run's
# leave_at_once() does. With ignore=1 it ignores both (a stuck worker).
WORKER = """
import os, signal, sys, time
settle, ignore, mark = float(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]
def bye(signum, frame):
    open(mark, "a").write(f"{signum}\\n")
    if len(open(mark).read().split()) > 1:
        os._exit(143)
    time.sleep(settle)
    sys.exit(130)
for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, signal.SIG_IGN if ignore else bye)
if ignore:
    signal.signal(signal.SIGINT, lambda s, f: open(mark, "a").write(f"{s}\\n"))
print("up", flush=True)
time.sleep(600)
"""


def _fake_start(settle: float, ignore: bool):
    def start(a, url, w, threads, tmp):
        return subprocess.Popen([sys.executable, "-c", WORKER, str(settle), str(int(ignore)),
                                 str(tmp / f"w{w.index}.signals")],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    return start


def _run(monkeypatch, tmp_path: Path, send: list[tuple[float, int]], *, settle=0.2,
         ignore=False) -> tuple[BaseException, float, list[str]]:
    """_supervise with two stand-in workers; `send` = (delay after the workers are up, signal)."""
    monkeypatch.setattr(jobs, "_start", _fake_start(settle, ignore))
    study = optuna.create_study(directions=["maximize", "minimize"])
    a = SearchConfig(n_trials=3, study_name="s", study_dir=tmp_path, quiet=True)

    def fire():
        time.sleep(1.0)  # both stand-ins started
        for delay, sig in send:
            time.sleep(delay)
            os.kill(os.getpid(), sig)

    t = threading.Thread(target=fire, daemon=True)
    late = []  # signals of a burst that arrive after the parent has left: not pytest's Ctrl-C
    before = {sig: signal.signal(sig, lambda n, f: late.append(n))
              for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        t0 = time.monotonic()
        t.start()
        with pytest.raises(SystemExit) as e:
            jobs._supervise(a, study, "sqlite://", ["cpu", "cpu"], 1, tmp_path, echo=False)
        seconds = time.monotonic() - t0
        t.join()
    finally:
        for sig, old in before.items():
            signal.signal(sig, old)
    marks = sorted(p.read_text() for p in tmp_path.glob("*.signals"))
    return e.value, seconds, marks


def test_ctrl_c_is_forwarded_once_and_the_parent_exits_130(monkeypatch, tmp_path, capsys):
    e, seconds, marks = _run(monkeypatch, tmp_path, [(0, signal.SIGINT)])
    assert e.code == 130 and seconds < 10
    assert marks == [f"{signal.SIGINT}\n"] * 2  # each worker got exactly one SIGINT
    assert capsys.readouterr().err.strip().startswith("interrupted: ")


def test_sigterm_to_the_parent_is_forwarded_as_sigint_and_exits_143(monkeypatch, tmp_path,
                                                                    capsys):
    e, _, marks = _run(monkeypatch, tmp_path, [(0, signal.SIGTERM)])
    assert e.code == 143 and marks == [f"{signal.SIGINT}\n"] * 2
    assert "terminated (SIGTERM)" in capsys.readouterr().err


def test_a_second_ctrl_c_terminates_workers_still_settling(monkeypatch, tmp_path):
    e, seconds, marks = _run(monkeypatch, tmp_path, [(0, signal.SIGINT), (0.5, signal.SIGINT)],
                             settle=60)
    assert e.code == 130 and seconds < 20  # not the 60 s the workers would take
    # SIGTERM landed while they settled: their handler ran again
    assert all(m.split() == [str(signal.SIGINT), str(signal.SIGTERM)] for m in marks), marks


def test_workers_deaf_to_signals_are_killed_after_the_waits(monkeypatch, tmp_path):
    monkeypatch.setattr(jobs, "STOP_WAIT_S", 0.5)
    monkeypatch.setattr(jobs, "KILL_WAIT_S", 0.5)
    e, seconds, marks = _run(monkeypatch, tmp_path, [(0, signal.SIGINT)], ignore=True)
    assert e.code == 130 and seconds < 10 and marks == [f"{signal.SIGINT}\n"] * 2


def test_a_burst_of_signals_mid_poll_never_hangs_the_parent(monkeypatch, tmp_path):
    # The CI hang: Ctrl-C raised inside Popen.wait() left its waitpid lock taken, and every
    # later wait on that worker blocked. Signals are now a flag; a burst lands anywhere.
    real = jobs.n_finished
    monkeypatch.setattr(jobs, "n_finished", lambda s: [real(s) for _ in range(50)][-1])
    monkeypatch.setattr(jobs, "POLL_S", 0.0)  # the parent reads the study all the time
    e, seconds, _ = _run(monkeypatch, tmp_path, [(0.003, signal.SIGINT)] * 40)
    assert e.code == 130 and seconds < 60


def test_signals_are_recorded_inside_and_put_back_after():
    before = signal.getsignal(signal.SIGINT)
    with Signals().caught() as s:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
    assert s.got == [signal.SIGTERM, signal.SIGINT] and type(s.first()).__name__ == "Terminated"
    assert signal.getsignal(signal.SIGINT) is before
