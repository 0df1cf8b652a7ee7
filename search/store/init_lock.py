"""Serialise Optuna's table creation when several workers open one new database at once.

RDBStorage creates missing tables check-then-CREATE, which is not atomic: workers started together
on an empty database die with "duplicate key value violates unique constraint
pg_type_typname_nsp_index" (PostgreSQL) or "table studies already exists" (SQLite). Optuna has no
lock of its own for this, so the storage is opened under one: the first worker creates the tables,
the others wait a few milliseconds and find them.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["INIT_LOCK_TIMEOUT_S", "folder_lock", "pg_init_lock"]

INIT_LOCK_TIMEOUT_S = 120  # s, waiting for another worker to finish creating the tables
_PG_INIT_LOCK = zlib.crc32(b"nas-mnist: optuna schema init")  # advisory-lock key: any fixed integer


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive flock on the SQLite database's folder while the storage opens.

    Hand-written because filelock needs a lock file, and a lock file would be left beside the
    database even by a command that fails (bad input must leave the folder untouched). Where
    there is no flock (Windows) workers are not serialised.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        deadline = time.monotonic() + INIT_LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{folder} stayed locked {INIT_LOCK_TIMEOUT_S} s") from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # closing drops the lock


@contextmanager
def pg_init_lock(url: str, engine_kwargs: dict[str, Any]) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock (server-side, per database) while the storage opens.

    Session-level, so a worker that dies holding it frees it; lock_timeout bounds the wait.
    """
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, **engine_kwargs)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(f"SET lock_timeout = '{INIT_LOCK_TIMEOUT_S}s'"))
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": _PG_INIT_LOCK})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"),
                             {"k": _PG_INIT_LOCK})
    finally:
        engine.dispose()
