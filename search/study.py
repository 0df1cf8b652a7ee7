"""Where studies live and how one is opened: storage URLs, heartbeats, sampler, output folders.

Default storage is SQLite under the studies folder, one file per study, opened with load-if-exists
so that rerunning the same command resumes. Heartbeats are on for RDB storages (SQLite, PostgreSQL)
so a worker killed mid-trial leaves a FAIL trial that Optuna's RetryFailedTrialCallback re-enqueues.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.storages import RDBStorage, RetryFailedTrialCallback

from search.errors import UserError

__all__ = [
    "HEARTBEAT_S", "StudyPaths", "check_study_name", "default_storage", "load_study",
    "open_storage", "open_study",
]

HEARTBEAT_S = 10  # seconds between a running trial's heartbeats
GRACE_S = 30  # seconds without a heartbeat after which a RUNNING trial is declared FAIL
MAX_RETRY = 2  # re-enqueues of a trial whose worker died
DIRECTIONS = ("maximize", "minimize")  # (validation accuracy %, parameter count)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


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

    def artifact_store(self) -> FileSystemArtifactStore:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        return FileSystemArtifactStore(str(self.artifacts))


def check_study_name(name: str) -> str:
    if not _NAME.match(name):
        raise UserError(
            f"bad study name {name!r}: use letters, digits, '.', '_' or '-' (no path separators)"
        )
    return name


def default_storage(study_dir: Path, name: str) -> str:
    return f"sqlite:///{study_dir / f'{name}.db'}"


def open_storage(url: str, *, heartbeat: bool = True) -> optuna.storages.BaseStorage:
    """An Optuna storage for `url`: sqlite:///, postgresql://, or journal:///path/to/file.log."""
    scheme = url.split(":", 1)[0].split("+", 1)[0] if ":" in url else ""
    hb: dict[str, Any] = {}
    if heartbeat:
        hb = {
            "heartbeat_interval": HEARTBEAT_S, "grace_period": GRACE_S,
            "failed_trial_callback": RetryFailedTrialCallback(max_retry=MAX_RETRY),
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if scheme == "sqlite":
            path = Path(url.removeprefix("sqlite:///"))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                if not path.parent.is_dir() or not _writable(path.parent):
                    raise PermissionError
            except OSError:
                raise UserError(f"cannot write to studies folder {path.parent}") from None
            # a busy timeout lets concurrent workers on one file wait for the lock, not fail
            return RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}}, **hb)
        if scheme in ("postgresql", "postgres"):
            try:
                return RDBStorage(url, engine_kwargs={"pool_pre_ping": True}, **hb)
            except ModuleNotFoundError:
                raise UserError(
                    "PostgreSQL needs its driver: pip install 'nas-mnist[postgres]'"
                ) from None
            except Exception as e:  # sqlalchemy.exc.OperationalError and kin: one line suffices
                msg = str(getattr(e, "orig", e)).strip().splitlines()[0]
                raise UserError(f"cannot reach PostgreSQL at {_redact(url)}: {msg}") from None
        if scheme == "journal":
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            path = Path(url.removeprefix("journal://"))
            path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(path)))
    raise UserError(
        f"unknown storage URL {_redact(url)!r}: use sqlite:///FILE, postgresql://... or "
        "journal:///FILE"
    )


def _writable(folder: Path) -> bool:
    probe = folder / ".nas-mnist-write-probe"
    try:
        probe.touch()
        probe.unlink()
        return True
    except OSError:
        return False


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def open_study(
    storage: optuna.storages.BaseStorage, name: str, *, seed: int, settings: dict[str, Any]
) -> optuna.Study:
    """Create or resume study `name`; `settings` must match what it was created with."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=True, constant_liar=True, n_startup_trials=10,
        )
        study = optuna.create_study(
            storage=storage, study_name=name, directions=list(DIRECTIONS), sampler=sampler,
            load_if_exists=True,
        )
    if [d.name.lower() for d in study.directions] != list(DIRECTIONS):
        raise UserError(f"study {name!r} exists but is not a nas-mnist study")
    old = study.user_attrs.get("settings")
    if old is None:
        study.set_user_attr("settings", settings)
    else:
        diff = [f"{k} {old.get(k)} (not {v})" for k, v in settings.items() if old.get(k) != v]
        if diff:
            raise UserError(f"study {name!r} was created with " + ", ".join(diff))
    return study


def load_study(storage: optuna.storages.BaseStorage, name: str) -> optuna.Study:
    """An existing study, or a one-line error naming the ones that exist."""
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    if name not in names:
        known = ", ".join(names) or "none"
        raise UserError(f"no study named {name!r} in this storage (studies: {known})")
    return optuna.load_study(study_name=name, storage=storage)
