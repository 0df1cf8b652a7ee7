"""Writes the machine refused: a full disk, a read-only or failing file system, under the study
folder, its database, its artifacts or its outputs.

Such a fault is not the trial's: every later write would fail the same way. So it becomes one
:class:`WriteFault` line naming the file and the cause (the search loop settles its running trial
first, as for Ctrl-C). Storage errors arrive wrapped (Optuna's StorageInternalError around
SQLAlchemy's OperationalError around the driver's error); the driver's message says what happened.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import optuna
from optuna.artifacts import FileSystemArtifactStore

from search.errors import UserError

__all__ = ["DISK_ERRNOS", "STORAGE_FAULTS", "ArtifactStore", "WriteFault", "as_write_fault",
           "storage_fault", "storage_target", "writing"]

# what SQLite and PostgreSQL say when a write cannot land (disk full, read-only, I/O error)
STORAGE_FAULTS = ("database or disk is full", "disk I/O error",
                  "attempt to write a readonly database", "No space left on device",
                  "could not extend file", "Disk quota exceeded", "Read-only file system")

# OSErrors that say the file system refused a write, wherever it happened
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO)


class WriteFault(UserError):
    """``cannot write PATH: CAUSE`` (plus, once the search has settled, what happened to it)."""

    def __init__(self, path: str | Path, cause: str, then: str = "") -> None:
        self.path, self.cause, self.then = str(path), cause, then
        super().__init__(f"cannot write {path}: {cause}" + (f"; {then}" if then else ""))

    def followed_by(self, then: str) -> WriteFault:
        return WriteFault(self.path, self.cause, then)


def _chain(e: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [e]
    while todo:
        x = todo.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        yield x
        todo += [getattr(x, "orig", None), x.__cause__, x.__context__]


def storage_fault(e: BaseException) -> str | None:
    """The driver's one-line cause when `e` is a storage write the disk refused, else None."""
    lines = [ln.strip() for x in _chain(e) for ln in str(x).splitlines()
             if any(s in ln for s in STORAGE_FAULTS)]
    return min(lines, key=len)[:300] if lines else None  # the driver's own, without wrappers


def storage_target(storage: optuna.storages.BaseStorage | None) -> str:
    """What a storage writes to, for a message: the SQLite or journal file, else the URL."""
    backend = getattr(storage, "_backend", storage)  # Optuna wraps RDBStorage in a cache
    engine = getattr(backend, "engine", None)
    if engine is not None:
        url = engine.url
        return str(url.database) if url.get_backend_name() == "sqlite" else url.render_as_string()
    path = getattr(getattr(backend, "_backend", None), "_file_path", None)  # JournalStorage
    return str(path) if path else "the study storage"


def as_write_fault(e: BaseException, *, path: str | Path | None = None,
                   storage: optuna.storages.BaseStorage | None = None) -> WriteFault | None:
    """`e` as a WriteFault: an OSError (naming its own file, else `path`; without `path` only the
    errnos of DISK_ERRNOS), or a storage error the disk caused (naming `storage`'s file); None for
    anything else."""
    if isinstance(e, WriteFault):
        return e
    if isinstance(e, UserError):  # already one line of its own
        return None
    if isinstance(e, OSError) and (path is not None or e.errno in DISK_ERRNOS):
        return WriteFault(e.filename or path or "a file", e.strerror or str(e) or type(e).__name__)
    cause = storage_fault(e)
    return WriteFault(storage_target(storage), cause) if cause is not None else None


@contextlib.contextmanager
def writing(path: str | Path | None = None,
            storage: optuna.storages.BaseStorage | None = None) -> Iterator[None]:
    """Within this block, an OSError (writing under `path`) or a storage error the disk caused is
    raised as one WriteFault line; anything else passes through."""
    try:
        yield
    except Exception as e:
        fault = as_write_fault(e, path=path, storage=storage)
        if fault is None:
            raise
        raise fault from None


class ArtifactStore(FileSystemArtifactStore):
    """Optuna's file store, except that a write cut short (disk full) removes its partial file:
    the space it took is what lets the study database record the trial as stopped."""

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        path = Path(self._get_filepath(artifact_id))
        try:
            with open(path, "wb") as f:
                shutil.copyfileobj(content_body, f)
        except OSError as e:
            path.unlink(missing_ok=True)
            raise WriteFault(path, e.strerror or str(e)) from None
