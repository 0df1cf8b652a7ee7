"""Ctrl-C that lands only where this process can settle its trial.

Python raises KeyboardInterrupt wherever the main thread happens to be. Two places are unsafe:
- inside SQLAlchemy or a database driver, where it can leave a transaction open on a connection
  nobody will close; with SQLite that locks the database for every other connection of the worker
  (its heartbeat thread, the writes that mark the trial FAIL), which then stalls and dies;
- inside Optuna outside our objective (``study.ask``: the sampler, the trial's creation), where
  the new trial is RUNNING in the storage but this process does not know its number yet, so
  nothing marks it FAIL and queues it again (only a later heartbeat check would).
So while a SIGINT arrives there it is deferred, and re-sent every RETRY_S seconds until the main
thread is somewhere safe: in a function marked :func:`interruptible` (the objective's body, which
records the trial and handles KeyboardInterrupt itself) or in no library code at all (the trial
loop between trials). Hand-written: neither Optuna nor the standard library offers this.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import CodeType, FrameType
from typing import TypeVar

__all__ = ["DEFERRING_MODULES", "interruptible", "safe_interrupts"]

DEFERRING_MODULES = ("sqlalchemy", "sqlite3", "psycopg", "alembic", "optuna")
RETRY_S = 0.05  # seconds between tries to deliver a deferred Ctrl-C

F = TypeVar("F", bound=Callable)
_INTERRUPTIBLE: set[CodeType] = set()


def interruptible(fn: F) -> F:
    """Mark `fn` as a place where Ctrl-C may land at once, even when Optuna called it."""
    _INTERRUPTIBLE.add(fn.__code__)
    return fn


def _defer(frame: FrameType | None) -> bool:
    """Innermost first: library code before any interruptible function means not now."""
    while frame is not None:
        if frame.f_code in _INTERRUPTIBLE:
            return False
        if frame.f_globals.get("__name__", "").startswith(DEFERRING_MODULES):
            return True
        frame = frame.f_back
    return False


def _handler(signum: int, frame: FrameType | None) -> None:
    if _defer(frame):
        timer = threading.Timer(RETRY_S, os.kill, (os.getpid(), signum))
        timer.daemon = True
        timer.start()
        return
    raise KeyboardInterrupt


@contextlib.contextmanager
def safe_interrupts() -> Iterator[None]:
    """Within this block, Ctrl-C waits until the main thread is somewhere safe (see above)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):  # e.g. started with nohup
        yield
        return
    previous = signal.signal(signal.SIGINT, _handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
