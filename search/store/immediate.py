"""SQLite transactions that take the write lock when they begin (``BEGIN IMMEDIATE``).

Python's sqlite3 driver opens a transaction only at the first write, so Optuna's "read the trial
``FOR UPDATE``, then write it" runs its read outside any lock (SQLite has no ``FOR UPDATE``). Two
workers could then both read a queued trial as WAITING and both set it RUNNING: both trained it,
and the second one's ``tell`` failed with "Cannot tell a COMPLETE trial" (seen in CI with
``--jobs 2``; Optuna issue 4002). Beginning every transaction with the write lock makes each
read-then-write atomic across processes; the busy timeout lets the others wait their turn. The
recipe is SQLAlchemy's own for pysqlite ("Serializable isolation / Savepoints / Transactional DDL").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

__all__ = ["begin_immediate"]


def begin_immediate(engine: Engine) -> None:
    """From now on every transaction of `engine` (a SQLite one) begins with BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _no_driver_begin(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver emits no BEGIN of its own

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections pooled before the listeners (the storage's set-up) go
