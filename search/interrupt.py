"""Ctrl-C that never lands inside a storage write.

Python raises KeyboardInterrupt wherever the main thread happens to be. Inside SQLAlchemy or a
database driver that can leave a transaction open on a connection nobody will close, and with
SQLite that locks the database for every other connection of the worker (its heartbeat thread, the
writes that mark the trial FAIL): the worker stalls for the busy timeout and exits with a traceback.
So while a SIGINT arrives inside storage code it is deferred, and re-sent every RETRY_S seconds
until the main thread is out of it; anywhere else it raises KeyboardInterrupt at once, as usual.
Hand-written: neither Optuna nor the standard library offers this.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["STORAGE_MODULES", "safe_interrupts"]

STORAGE_MODULES = ("sqlalchemy", "sqlite3", "psycopg", "alembic", "optuna.storages")
RETRY_S = 0.05  # seconds between tries to deliver a deferred Ctrl-C


def _in_storage(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith(STORAGE_MODULES):
            return True
        frame = frame.f_back
    return False


def _handler(signum: int, frame: FrameType | None) -> None:
    if _in_storage(frame):
        timer = threading.Timer(RETRY_S, os.kill, (os.getpid(), signum))
        timer.daemon = True
        timer.start()
        return
    raise KeyboardInterrupt


@contextlib.contextmanager
def safe_interrupts() -> Iterator[None]:
    """Within this block, Ctrl-C waits for the storage call under way (main thread only)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):  # e.g. started with nohup
        yield
        return
    previous = signal.signal(signal.SIGINT, _handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
