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

SIGTERM (``kill``, a batch scheduler, ``docker stop``) is handled exactly like Ctrl-C, as a
:class:`Terminated` KeyboardInterrupt: without this, Python dies at once and leaves its trial
RUNNING until another worker's heartbeat check. The process then exits 143 (128 + SIGTERM).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import CodeType, FrameType
from typing import TypeVar

__all__ = ["DEFERRING_MODULES", "Signals", "Terminated", "exit_status", "interruptible",
           "leave_at_once", "raise_on_sigterm", "safe_interrupts", "stop_name"]

DEFERRING_MODULES = ("sqlalchemy", "sqlite3", "psycopg", "alembic", "optuna")
RETRY_S = 0.05  # seconds between tries to deliver a deferred Ctrl-C

F = TypeVar("F", bound=Callable)
_INTERRUPTIBLE: set[CodeType] = set()
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be so that the same code settles the trial."""


def exit_status(e: BaseException) -> int:
    """The shell's status for a process ended by this signal: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + (signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT)


def stop_name(e: BaseException) -> str:
    """What stopped us, for the user: 'interrupted' (Ctrl-C) or 'terminated (SIGTERM)'."""
    return "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"


def _raise(signum: int) -> None:
    raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


def _raise_now(signum: int, frame: FrameType | None) -> None:
    _raise(signum)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def raise_on_sigterm() -> Callable[[int, FrameType | None], object] | int | None:
    """From now on SIGTERM raises :class:`Terminated` (unless ignored, e.g. under nohup); returns
    the previous handler to restore, or None where nothing was changed."""
    if not _main_thread() or signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        return None
    return signal.signal(signal.SIGTERM, _raise_now)


def leave_at_once() -> None:
    """A second Ctrl-C or SIGTERM (while the first one is being settled) leaves at once, even
    inside library code: the user asked twice."""
    if not _main_thread():
        return
    for sig in _SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _raise_now)


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
    _raise(signum)


@contextlib.contextmanager
def _handling(handler: Callable[[int, FrameType | None], object]) -> Iterator[None]:
    """Within this block `handler` takes SIGINT and SIGTERM (on the main thread; a signal the
    process ignores, e.g. SIGINT under nohup, stays ignored); after it, the handlers before."""
    if not _main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    for sig, old in previous.items():
        if old is not signal.SIG_IGN:
            signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            if old is not None:  # None: installed outside Python, cannot be put back
                signal.signal(sig, old)


@contextlib.contextmanager
def safe_interrupts() -> Iterator[None]:
    """Within this block, Ctrl-C and SIGTERM wait until the main thread is somewhere safe (see
    above)."""
    with _handling(_handler):
        yield


class Signals:
    """Ctrl-C and SIGTERM as a record the caller reads when it likes, never as an exception.

    For a process whose main thread only supervises others (``search --jobs``' parent): an
    exception raised wherever that thread is can land inside ``subprocess.Popen.wait`` between
    taking and releasing its waitpid lock, after which every later wait on that child blocks
    forever. The handler only appends to a list (no lock a signal could meet half-taken)."""

    def __init__(self) -> None:
        self.got: list[int] = []

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.got.append(signum)

    def first(self) -> KeyboardInterrupt:
        """What the first signal means, as the exception the rest of the code reports."""
        return Terminated() if self.got and self.got[0] == signal.SIGTERM else KeyboardInterrupt()

    @contextlib.contextmanager
    def caught(self) -> Iterator[Signals]:
        """Within this block both signals are recorded (see :func:`_handling`)."""
        with _handling(self._note):
            yield self
