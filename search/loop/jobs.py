"""`nas-mnist search --jobs N`: N worker processes sharing one study, on one or more devices.

The parent runs :func:`~search.loop.run.prepare_study` once (validation, a first read of the data
that also unpacks it before any worker reads it, the study with its queued first trials), then
starts N copies of this module. Each worker loads MNIST onto its own device and runs
:func:`~search.loop.run.work` against the shared storage: Optuna hands out trial numbers, the
sampler seeds its draws per trial (so workers sharing ``--seed`` draw different nets), and the
loop's surplus check stops the workers at exactly ``--n-trials`` finished trials. Workers log one
line per trial, which the parent relays with the worker's index, and their running trial's
progress (search.loop.progress.Relay), which the parent draws as one line per worker under the
study bar. Ctrl-C (or SIGTERM) in the parent is forwarded to the workers as SIGINT (each marks its
running trial FAIL and exits) and the parent waits for them (a second signal: SIGTERM, then
SIGKILL). Processes, not threads: each trial needs its own global RNG, autocast state and CUDA
context, and the GIL would serialise the Python-side kernel launches that bound tiny nets.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import torch
from tqdm.auto import tqdm

from search.atomic import atomic_write
from search.config import SearchConfig
from search.errors import UserError
from search.loop.interrupt import Signals, exit_status
from search.loop.progress import Relay, StudyBar, TrialProgress, WorkerBoard
from search.loop.run import load_data, prepare_study, validate, work
from search.loop.summary import announce, finish, stopped_line
from search.store.faults import WriteFault
from search.store.study import StudyPaths, n_finished
from search.training.device import cpu_cores, resolve_device

__all__ = ["GPU_WORKERS", "JobsRun", "WorkerError", "WorkerStats", "default_jobs",
           "parse_devices", "run_jobs"]

POLL_S = 1.0  # seconds between the parent's looks at the storage (study bar), at most
TICK_S = 0.05  # seconds between the parent's looks at its workers and at signals
STOP_WAIT_S = 120  # seconds the parent waits for interrupted workers before terminating them
KILL_WAIT_S = 30  # seconds after SIGTERM before SIGKILL


class WorkerError(UserError):
    """One or more worker processes exited with a non-zero status."""


@dataclass
class WorkerStats:
    """What one worker process did and used; memory is the process's peak over all its trials."""

    index: int
    device: str
    returncode: int | None = None
    max_rss_mb: float = float("nan")  # peak resident host memory (ru_maxrss)
    cuda_peak_mb: float = float("nan")  # torch.cuda.max_memory_allocated; NaN on CPU
    tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=20))


@dataclass
class JobsRun:
    study: optuna.Study
    workers: list[WorkerStats]
    seconds: float  # wall time from starting the first worker until the last one exited


def parse_devices(spec: str) -> list[str]:
    """``"cuda:0,cuda:1"`` -> checked device names, or a one-line UserError."""
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise UserError(f"--devices needs a comma-separated list of devices, got {spec!r}")
    return [str(resolve_device(n)) for n in names]


# Workers per GPU when --jobs is not given. One worker leaves a GPU mostly idle on these nets (its
# Python-side kernel launches bound it); on an H200 eight concurrent trials each kept 0.55-0.85x
# of a lone trial's epoch rate (docs/benchmarks.md, "On a GPU"). Each needs a CPU core.
GPU_WORKERS = 8


def default_jobs(device: str | Sequence[str]) -> int:
    """Workers when --jobs is not given: $NAS_MNIST_JOBS if set (the test suite sets 1), else one
    per core (one thread each) on CPU, and on GPUs up to GPU_WORKERS each, no more than the cores
    allow. On CPU one worker per core beat one worker on every core (docs/benchmarks.md, "Every
    core busy"): two threads train a tiny net barely faster. ``device`` is --device or the
    --devices list; a list that is not all GPUs gets one worker per entry."""
    env = os.environ.get("NAS_MNIST_JOBS", "")
    if env:
        if not env.isdigit() or int(env) < 1:
            raise UserError(f"NAS_MNIST_JOBS must be a whole number >= 1, got {env!r}")
        return int(env)
    devs = [device] if isinstance(device, str) else list(device)
    kinds = {resolve_device(d).type for d in devs}
    if kinds != {"cuda"}:
        return cpu_cores() if len(devs) == 1 and kinds == {"cpu"} else len(devs)
    return len(devs) * max(1, min(GPU_WORKERS, cpu_cores() // len(devs)))


def run_jobs(
    a: SearchConfig, jobs: int, devices: Sequence[str] | None = None, *, echo: bool = True
) -> JobsRun:
    """Run study ``a`` with ``jobs`` worker processes spread round-robin over ``devices``
    (default: ``a.device``). Writes and (when ``echo``) prints the Pareto front like
    :func:`~search.loop.run.run_search`; raises :class:`WorkerError` if any worker failed."""
    if jobs < 1:
        raise UserError(f"--jobs must be >= 1, got {jobs}")
    devs = [str(resolve_device(d)) for d in (devices or [a.device])]
    study = prepare_study(a)
    if echo:
        announce(study, a)
    url = a.storage_url
    plan = [devs[i % len(devs)] for i in range(jobs)]
    threads = max(1, cpu_cores() // jobs)  # CPU workers would fight over the cores otherwise
    with tempfile.TemporaryDirectory(prefix="nas-mnist-jobs-") as tmp:
        t0 = time.monotonic()
        try:
            stats = _supervise(a, study, url, plan, threads, Path(tmp), echo)
        except SystemExit as e:  # Ctrl-C or SIGTERM, workers settled: the front so far
            if echo:
                finish(study, a, stopped=e)
            raise
        seconds = time.monotonic() - t0
    failed = [w for w in stats if w.returncode != 0]
    try:
        if echo:
            finish(study, a)
        else:  # bench's runs: the files without the printout
            from search.results.outputs import save_front

            save_front(study, StudyPaths(a.study_root), a.budget)
    except WriteFault:
        if not failed:
            raise
        # a full disk stopped the workers first: their line below says which file and why
    if failed:
        w = failed[0]
        last = next((ln for ln in reversed(w.tail) if ln.strip()), "no output")
        raise WorkerError(f"{len(failed)} of {jobs} workers failed; worker {w.index} on "
                          f"{w.device} exited with {w.returncode}: {last}")
    return JobsRun(study, stats, seconds)


def _supervise(a: SearchConfig, study: optuna.Study, url: str, plan: list[str], threads: int,
               tmp: Path, echo: bool) -> list[WorkerStats]:
    stats = [WorkerStats(i, dev) for i, dev in enumerate(plan)]
    bar = StudyBar(total=a.n_trials, initial=min(n_finished(study), a.n_trials), unit="trial",
                   desc=f"study {a.name} x{len(plan)}", disable=a.quiet or not echo,
                   dynamic_ncols=True, timeout=a.timeout)
    board = WorkerBoard(len(plan), disable=a.quiet or not echo)
    relay = threading.Event()  # cleared on interrupt: the workers' goodbyes are noise then
    if echo:
        relay.set()
    procs: list[subprocess.Popen] = []
    readers: list[threading.Thread] = []
    # Signals as a flag read between polls: the parent's state (and Popen's) stays whole.
    with Signals().caught() as signals:
        try:
            for w in stats:
                procs.append(_start(a, url, w, threads, tmp))
                readers.append(threading.Thread(target=_read, args=(procs[-1], w, relay, board),
                                                daemon=True))
                readers[-1].start()
            next_look = 0.0
            while not signals.got and any(p.poll() is None for p in procs):
                if time.monotonic() >= next_look:
                    bar.n = min(n_finished(study), a.n_trials)
                    if bar.n < a.n_trials:  # the final state is drawn once, by close()
                        bar.refresh()
                    next_look = time.monotonic() + POLL_S
                time.sleep(TICK_S)
            if signals.got:
                relay.clear()
                board.close()
                bar.close()
                _stop(procs, signals)
                e = signals.first()
                note = "the workers' running trials were marked FAIL and queued again; "
                print("\n" + stopped_line(e, study, a, note), file=sys.stderr, flush=True)
                raise SystemExit(exit_status(e))
        finally:
            board.close()
            bar.close()
    for p, r, w in zip(procs, readers, stats, strict=True):
        r.join(timeout=10)
        w.returncode = p.returncode
        _load_stats(w, tmp / f"w{w.index}.json")
    return stats


def _start(a: SearchConfig, url: str, w: WorkerStats, threads: int, tmp: Path) -> subprocess.Popen:
    # the parent has created the study and queued its transfers (and stored a --net-from net):
    # a worker reads no earlier study (with storage=url it would look in this study's own file)
    spec = dataclasses.replace(a, device=w.device, storage=url, quiet=True,
                               warm_from=(), net_from=None).to_json()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("OMP_NUM_THREADS", str(threads))  # the user's explicit setting wins
    cmd = [sys.executable, "-m", "search.loop.jobs", "--stats", str(tmp / f"w{w.index}.json"),
           json.dumps(spec)]
    # A session of its own: a terminal's Ctrl-C reaches only the parent, which forwards it once.
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1, env=env, start_new_session=True)


def _read(p: subprocess.Popen, w: WorkerStats, relay: threading.Event,
          board: WorkerBoard) -> None:
    assert p.stdout is not None
    for line in p.stdout:
        line = line.rstrip("\n")
        if (progress := TrialProgress.from_line(line)) is not None:
            if relay.is_set():
                board.show(w.index, progress)
            continue
        w.tail.append(line)
        if relay.is_set():
            tqdm.write(f"[w{w.index}] {line}", file=sys.stdout)


def _stop(procs: list[subprocess.Popen], signals: Signals) -> None:
    """Forward SIGINT to live workers and wait for them to settle their trials. Another Ctrl-C
    or SIGTERM, or STOP_WAIT_S without exiting, gets SIGTERM; KILL_WAIT_S after that, SIGKILL
    (their trials then stay RUNNING until a later run's heartbeat check queues them again)."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    asked, escalate, deadline = len(signals.got), [signal.SIGTERM, signal.SIGKILL], STOP_WAIT_S
    t0 = time.monotonic()
    while live := [p for p in procs if p.poll() is None]:
        if escalate and (len(signals.got) > asked or time.monotonic() - t0 > deadline):
            sig = escalate.pop(0)
            for p in live:
                p.send_signal(sig)
            asked, deadline, t0 = len(signals.got), KILL_WAIT_S, time.monotonic()
        time.sleep(TICK_S)


def _load_stats(w: WorkerStats, path: Path) -> None:
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return  # the worker died before writing them
    w.max_rss_mb, w.cuda_peak_mb = d["max_rss_mb"], d["cuda_peak_mb"]


# ---- worker side ---------------------------------------------------------------------------


def _work(a: SearchConfig) -> torch.device:
    """One worker: run_search() minus the front, which the parent writes once at the end."""
    device = validate(a)
    data = load_data(a, device)
    work(a, prepare_study(a, data), data, watch=Relay)
    return device


def _worker_main(argv: list[str]) -> int:
    from search.training.data import DataError
    from space import BudgetError, ConfigError

    ap = argparse.ArgumentParser(prog="nas-mnist search worker")
    ap.add_argument("--stats", type=Path, required=True)
    ap.add_argument("spec", help="SearchConfig as JSON")
    ns = ap.parse_args(argv)
    a = SearchConfig.from_json(json.loads(ns.spec))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rc, device = 0, torch.device("cpu")
    try:
        device = _work(a)
    except (UserError, DataError, BudgetError, ConfigError) as e:
        print(f"error: {e}", flush=True)
        rc = 2
    except SystemExit as e:  # _loop's exit after Ctrl-C
        rc = e.code if isinstance(e.code, int) else 1
    except KeyboardInterrupt:  # Ctrl-C before the trial loop began
        rc = 130
    finally:
        cuda = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else float("nan")
        out = {"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "cuda_peak_mb": cuda / 2**20}
        atomic_write(ns.stats, lambda tmp: tmp.write_text(json.dumps(out)))
    return rc


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
