"""search.store.faults: which errors are a write the machine refused, and the line they become."""

from __future__ import annotations

import errno
import sqlite3

import optuna
import pytest
import sqlalchemy.exc

from search.errors import UserError
from search.store.faults import WriteFault, as_write_fault, storage_fault, storage_target, writing
from search.store.study import open_storage


def _wrapped(message: str) -> Exception:
    """An error as Optuna's RDBStorage raises it: its own, around SQLAlchemy's, around sqlite's."""
    try:
        try:
            try:
                raise sqlite3.OperationalError(message)
            except sqlite3.OperationalError as e:
                raise sqlalchemy.exc.OperationalError("INSERT ...", {}, e) from e
        except sqlalchemy.exc.OperationalError as e:
            raise optuna.exceptions.StorageInternalError("An exception is raised ...") from e
    except optuna.exceptions.StorageInternalError as e:
        return e


def test_storage_errors_of_a_full_disk_name_the_driver_cause():
    assert storage_fault(_wrapped("database or disk is full")) == "database or disk is full"
    assert storage_fault(_wrapped("disk I/O error")) == "disk I/O error"
    assert storage_fault(_wrapped("no such table: trials")) is None  # not the disk's fault
    assert storage_fault(ValueError("x")) is None


def test_the_line_names_the_database_file(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat=False)
    study = optuna.create_study(storage=storage)
    assert storage_target(study._storage) == str(tmp_path / "s.db")  # through Optuna's cache
    with pytest.raises(WriteFault) as e, writing(storage=study._storage):
        raise _wrapped("database or disk is full")
    assert str(e.value) == f"cannot write {tmp_path / 's.db'}: database or disk is full"


def test_oserrors():
    full = OSError(errno.ENOSPC, "No space left on device", "/s/b.db-journal")
    assert str(as_write_fault(full)) == "cannot write /s/b.db-journal: No space left on device"
    nameless = OSError(errno.ENOSPC, "No space left on device")
    assert str(as_write_fault(nameless, path="/s/x.csv")) == (
        "cannot write /s/x.csv: No space left on device")
    # without a path (the CLI's last resort) only errnos that say the disk refused a write count
    assert as_write_fault(FileNotFoundError(errno.ENOENT, "No such file", "/x")) is None
    assert as_write_fault(UserError("3 trials in a row failed; last: No space left")) is None
    f = WriteFault("/s/b.db", "disk I/O error").followed_by("rerun")
    assert str(f) == "cannot write /s/b.db: disk I/O error; rerun"
