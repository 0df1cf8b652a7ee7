"""Where studies live and how one is opened: storage URLs, heartbeats, sampler, output folders.

Default storage is SQLite under the studies folder, one file per study, opened with load-if-exists
so that rerunning the same command resumes. Every storage a search writes (SQLite, PostgreSQL,
journal file) has heartbeats (search.store.heartbeat): a worker killed mid-trial stops beating,
and after the grace period its trial becomes FAIL and is queued again.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import DuplicatedStudyError, UpdateFinishedTrialError
from optuna.storages import RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import FrozenTrial, TrialState

from search.config import SearchConfig, default_storage
from search.errors import UserError
from search.store.faults import ArtifactStore
from search.store.heartbeat import (
    HeartbeatJournalStorage,
    HeartbeatRDBStorage,
    heartbeat_kwargs,
    heartbeat_settings,
)
from search.store.immediate import begin_immediate
from search.store.init_lock import folder_lock, pg_init_lock
from search.store.samplers import make_sampler, with_fixed

__all__ = [
    "FINISHED",
    "FIXED_NET",
    "StudyPaths",
    "check_study_name",
    "check_writable",
    "existing_url",
    "heartbeat_settings",
    "load_study",
    "n_finished",
    "open_existing",
    "open_storage",
    "open_study",
    "redact",
    "requeue",
    "sqlalchemy_url",
    "unstart",
]

PG_CONNECT_TIMEOUT_S = 10  # an unreachable PostgreSQL host is an error, not a hang
DIRECTIONS = ("maximize", "minimize")  # (validation accuracy %, parameter count)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)  # what counts towards --n-trials
# study user attr of a `search --net-from` study: {"source": "STUDY#N", "params": the net's draws}
FIXED_NET = "fixed_net"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SCHEMES = "use sqlite:///FILE, postgresql://USER@HOST/DB or journal:///FILE"


@dataclass(frozen=True)
class StudyPaths:
    """Files of one study under the studies folder."""

    root: Path  # studies/<name>/

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def pareto_csv(self) -> Path:
        return self.root / "pareto.csv"

    @property
    def pareto_png(self) -> Path:
        return self.root / "pareto.png"

    @property
    def report_md(self) -> Path:
        return self.root / "report.md"

    @property
    def export_dir(self) -> Path:
        return self.root / "export"

    def artifact_store(self) -> ArtifactStore:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        return ArtifactStore(str(self.artifacts))


def check_study_name(name: str) -> str:
    if not _NAME.match(name):
        raise UserError(
            f"bad study name {name!r}: use letters, digits, '.', '_' or '-' (no path separators)"
        )
    return name


def check_writable(folder: Path) -> None:
    """Refuse a folder we could not create or write into, without creating anything."""
    p = Path(folder).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent  # the nearest existing ancestor decides whether mkdir will work
    if not p.is_dir() or not os.access(p, os.W_OK | os.X_OK):
        raise UserError(f"cannot write to studies folder {folder}")


def sqlalchemy_url(url: str) -> str:
    """postgresql:// and postgres:// as SQLAlchemy URLs for psycopg 3, the driver we install.

    Plain ``postgresql://`` makes SQLAlchemy look for psycopg2; an explicit ``+driver`` is kept.
    """
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


def open_storage(url: str, *, heartbeat: bool = True) -> optuna.storages.BaseStorage:
    """An Optuna storage for `url`: sqlite:///, postgresql://, or journal:///path/to/file.log."""
    scheme = url.split(":", 1)[0].split("+", 1)[0] if "://" in url else ""
    hb = heartbeat_kwargs() if heartbeat else {}
    if scheme == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        _make_folder(path.parent)
        try:  # a busy timeout lets concurrent workers on one file wait for the lock, not fail
            with folder_lock(path.parent):  # workers starting together: see search.store.init_lock
                storage = _rdb(url, {"connect_args": {"timeout": 60}}, hb)
            begin_immediate(storage.engine)  # atomic pops of queued trials across workers
            return storage
        except Exception as e:  # not a database, a newer schema, ...: one line suffices
            raise UserError(f"cannot open study database {path}: {_first_line(e)}") from None
    if scheme in ("postgresql", "postgres"):
        return _postgres(url, hb)
    if scheme == "journal":
        path = Path(url.removeprefix("journal://"))
        _make_folder(path.parent)
        backend = JournalFileBackend(str(path))
        return HeartbeatJournalStorage(backend, **hb) if hb else JournalStorage(backend)
    raise UserError(f"unknown storage URL {redact(url)!r}: {_SCHEMES}")


def _make_folder(folder: Path) -> None:
    check_writable(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        raise UserError(f"cannot write to studies folder {folder}") from None


def _rdb(url: str, engine_kwargs: dict[str, Any], hb: dict[str, Any]) -> RDBStorage:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if hb:
            return HeartbeatRDBStorage(url, engine_kwargs=engine_kwargs, **hb)
        return RDBStorage(url, engine_kwargs=engine_kwargs)


def _postgres(url: str, hb: dict[str, Any]) -> RDBStorage:
    try:
        import psycopg  # noqa: F401  (the driver sqlalchemy_url names)
    except ModuleNotFoundError:
        raise UserError("PostgreSQL needs its driver: pip install 'nas-mnist[postgres]'") from None
    kw = {"pool_pre_ping": True, "connect_args": {"connect_timeout": PG_CONNECT_TIMEOUT_S}}
    sa_url = sqlalchemy_url(url)
    try:
        with pg_init_lock(sa_url, kw):
            return _rdb(sa_url, kw, hb)
    except Exception as e:  # sqlalchemy.exc.OperationalError and kin: one line suffices
        raise UserError(f"cannot reach PostgreSQL at {redact(url)}: {_first_line(e)}") from None


def _first_line(e: BaseException) -> str:
    """The driver's own message (not SQLAlchemy's wrapper with SQL and links), first line."""
    return (str(getattr(e, "orig", None) or e).strip().splitlines() or ["unknown error"])[0]


def redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def open_study(
    storage: optuna.storages.BaseStorage, name: str, *, seed: int, settings: dict[str, Any],
    sampler_kind: str = SearchConfig.sampler, startup_trials: int = SearchConfig.startup_trials,
    on_create: Callable[[optuna.Study], object] | None = None,
    fixed: dict[str, Any] | None = None, min_params: int = 0,
) -> optuna.Study:
    """Create or resume study `name`; `settings` must match what it was created with.

    `on_create(study)` runs only in the one process that created the study, even when several
    workers start at once (the storage lets exactly one creation succeed): enqueue trials there.
    The draws a study stores under FIXED_NET are fixed in every trial; `fixed` stands in for them
    while the creator, another process, has not stored them yet. `min_params`: every drawn
    net's size target is at least that (the study's ``budget`` setting is the top).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = make_sampler(seed, sampler_kind, startup_trials,
                               budget=settings.get("budget"), min_params=min_params)
        try:
            dirs = [optuna.study.StudyDirection[d.upper()] for d in DIRECTIONS]
            storage.create_new_study(dirs, name)
            created = True
        except DuplicatedStudyError:
            created = False
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    if [d.name.lower() for d in study.directions] != list(DIRECTIONS):
        raise UserError(f"study {name!r} exists but is not a nas-mnist study")
    old = study.user_attrs.get("settings")
    if old is None:
        study.set_user_attr("settings", settings)
    else:
        # a key missing from an old study is a setting added since: it had the default then
        was = {**SearchConfig().settings(), **old}
        diff = [f"{k} {was[k]} (not {v})" for k, v in settings.items()
                if k in was and was[k] != v]
        if diff:
            raise UserError(f"study {name!r} was created with " + ", ".join(diff))
    if created and on_create is not None:
        on_create(study)
    fixed = (study.user_attrs.get(FIXED_NET) or {}).get("params", fixed)  # search --net-from
    if fixed:
        study.sampler = with_fixed(study.sampler, fixed)
    return study


def n_finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue a copy of an interrupted trial (same params, reference and retry bookkeeping as
    Optuna's RetryHeartbeatStaleTrialCallback), without the failed run's results or fail reason."""
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    # what chooses or names the candidate; the rest is rewritten by the next run
    keep = {"reference", "warm_start", "neighbour_of"}
    study.add_trial(optuna.create_trial(
        state=TrialState.WAITING, params=trial.params, distributions=trial.distributions,
        user_attrs={k: v for k, v in trial.user_attrs.items() if k in keep},
        system_attrs={**trial.system_attrs, "failed_trial": history[0], "retry_history": history},
    ))


def unstart(study: optuna.Study, trial_id: int) -> None:
    """Put a RUNNING trial that this worker will not run back in the queue as it was (WAITING,
    with what it was queued with: fixed params, labels, a retry's params), for a later run to pop.
    Its heartbeat and start time go too: left behind, the heartbeat would make the trial look
    stale once popped again. Optuna has no call for this, nor one that deletes a trial."""
    storage = study._storage
    backend = getattr(storage, "_backend", storage)  # Optuna wraps RDBStorage in a cache
    if not isinstance(backend, RDBStorage):  # a journal's beat counts from the trial's own start
        with contextlib.suppress(UpdateFinishedTrialError):  # declared dead meanwhile
            storage.set_trial_state_values(trial_id, TrialState.WAITING)
        return
    from optuna.storages._rdb import models  # the ORM Optuna itself writes these rows with
    from optuna.storages._rdb.storage import _create_scoped_session

    with _create_scoped_session(backend.scoped_session, True) as session:  # one transaction
        trial = models.TrialModel.find_or_raise_by_id(trial_id, session, for_update=True)
        if trial.state != TrialState.RUNNING:
            return  # another worker declared it dead meanwhile: its own retry stands
        trial.state, trial.datetime_start = TrialState.WAITING, None
        session.query(models.TrialHeartbeatModel).filter(
            models.TrialHeartbeatModel.trial_id == trial_id).delete()


def load_study(storage: optuna.storages.BaseStorage, name: str) -> optuna.Study:
    """An existing study, or a one-line error naming the ones that exist."""
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    if name not in names:
        known = ", ".join(names) or "none"
        raise UserError(f"no study named {name!r} in this storage (studies: {known})")
    return optuna.load_study(study_name=name, storage=storage)


def existing_url(study_dir: Path, name: str, storage: str | None) -> str:
    """The storage URL of existing study `name` (--storage, or its SQLite file in --study-dir,
    which must exist: a missing one is a typo, not a new study)."""
    check_study_name(name)
    if storage is not None:
        return storage
    db = Path(study_dir) / f"{name}.db"
    if not db.is_file():
        raise UserError(f"no study named {name!r}: {db} does not exist")
    return default_storage(Path(study_dir), name)


def open_existing(
    study_name: str, storage: str | None, study_dir: Path
) -> tuple[optuna.Study, StudyPaths]:
    """Load an existing study named by --study/--storage/--study-dir, or a one-line error."""
    url = existing_url(study_dir, study_name, storage)
    study = load_study(open_storage(url, heartbeat=False), study_name)
    return study, StudyPaths(Path(study_dir) / study_name)
