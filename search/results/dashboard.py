"""optuna-dashboard on a study's storage and its artifact store.

Which storage: ``--storage URL`` as given (every study in it is served); otherwise the SQLite file
``<study-dir>/<study>.db`` of ``--study``, or, without ``--study``, the only ``*.db`` in the studies
folder (several files: ``--study`` must pick one, as a dashboard serves one storage).
Artifacts: each served study keeps its artifacts in ``<study-dir>/<study>/artifacts``; the
dashboard gets one store reading from all of those folders (artifact ids are UUIDs, so an id names
one file in one folder). Equivalent plain command for one study::

    optuna-dashboard sqlite:///studies/NAME.db --artifact-dir studies/NAME/artifacts \\
        --host 127.0.0.1 --port 8080
"""

from __future__ import annotations

import signal
import sys
import warnings
from collections.abc import Callable, Iterable
from contextlib import suppress
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import BinaryIO
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.artifacts.exceptions import ArtifactNotFound

from search.config import default_storage
from search.errors import UserError
from search.store.study import StudyPaths, existing_url, load_study, open_storage

__all__ = ["METRIC_NAMES", "StudyFolders", "resolve_storage", "serve"]

METRIC_NAMES = ["val_acc_%", "params"]  # names of trial.values, shown as the dashboard's axes


def resolve_storage(study_dir: Path, name: str | None, url: str | None) -> tuple[str, str | None]:
    """(storage URL, study name or None) for the dashboard's options, or a one-line error."""
    if name is not None:
        return existing_url(study_dir, name, url), name
    if url is not None:
        return url, None
    dbs = sorted(study_dir.glob("*.db"))
    if not dbs:
        raise UserError(f"no studies in {study_dir} (no *.db files); pass --study-dir or --storage")
    if len(dbs) > 1:
        names = ", ".join(p.stem for p in dbs)
        raise UserError(f"{study_dir} holds several studies ({names}): pass --study NAME")
    return default_storage(study_dir, dbs[0].stem), dbs[0].stem


class StudyFolders:
    """An Optuna artifact store over the artifact folders of several studies.

    Hand-written (a dozen lines) because optuna's FileSystemArtifactStore has one base folder and
    this project keeps one folder per study. Reads find the id in whichever folder holds it; the
    dashboard's own uploads go to the first folder.
    """

    def __init__(self, folders: list[Path]) -> None:
        if not folders:
            raise ValueError("at least one artifact folder is needed")
        self.folders = folders
        self._stores = [FileSystemArtifactStore(str(f)) for f in folders]

    def open_reader(self, artifact_id: str) -> BinaryIO:
        for store in self._stores:
            with suppress(ArtifactNotFound):
                return store.open_reader(artifact_id)
        raise ArtifactNotFound(f"artifact {artifact_id} not found")

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self.folders[0].mkdir(parents=True, exist_ok=True)
        self._stores[0].write(artifact_id, content_body)

    def remove(self, artifact_id: str) -> None:
        for store in self._stores:
            with suppress(ArtifactNotFound):
                return store.remove(artifact_id)
        raise ArtifactNotFound(f"artifact {artifact_id} not found")


def _name_metrics(storage: optuna.storages.BaseStorage, names: list[str]) -> None:
    """Label the two objectives of nas-mnist studies that have no metric names yet, so the
    dashboard's axes and columns read val_acc_% / params instead of Objective 0 / 1."""
    for name in names:
        study = optuna.load_study(study_name=name, storage=storage)
        if ("settings" in study.user_attrs and len(study.directions) == 2
                and not study.metric_names):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.set_metric_names(METRIC_NAMES)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # one line per request is noise
        pass


class _ThreadedServer(ThreadingMixIn, WSGIServer):
    # The dashboard's page issues several requests at once; optuna-dashboard's own CLI uses this
    # same threaded wsgiref server (its run_server() helper is single-threaded).
    daemon_threads = True


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _trial_table_redirect(app: Callable) -> Callable:
    """Send /dashboard/studies/N/trialTable to the page that holds the trial table now.

    optuna-dashboard 0.21 still routes that URL (bookmarks, older links) but its study page has no
    "trialTable" branch any more, so it renders an empty page: the table moved to "Smart
    Selection" (docs/cli.md, "Dashboard"). Only a direct load reaches the server; in-app links never
    point there.
    """

    def wrapped(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/dashboard/studies/") and path.endswith("/trialTable"):
            start_response("302 Found", [("Location", path.removesuffix("trialTable")
                                          + "smartSelection"), ("Content-Length", "0")])
            return [b""]
        return app(environ, start_response)

    return wrapped


def serve(study_dir: Path, name: str | None, url: str | None, host: str, port: int) -> None:
    """Serve optuna-dashboard on the storage chosen as in resolve_storage until Ctrl-C/SIGTERM."""
    from optuna_dashboard import wsgi

    url, name = resolve_storage(study_dir, name, url)
    storage = open_storage(url, heartbeat=False)
    if name is not None:
        load_study(storage, name)  # a one-line error naming the studies that exist
        names = [name]
    else:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    _name_metrics(storage, names)
    # optuna's importance estimate warns on every page load of a small study: noise in a server log
    warnings.filterwarnings("ignore", message="Some regimes for parameter", category=UserWarning)
    folders = [StudyPaths(study_dir / n).artifacts for n in names] or [study_dir / "artifacts"]
    app = _trial_table_redirect(wsgi(storage, artifact_store=StudyFolders(folders)))
    try:
        server = make_server(host, port, app, server_class=_ThreadedServer,
                             handler_class=_QuietHandler)
    except OSError as e:
        raise UserError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    host = f"[{host}]" if ":" in host else host
    try:
        # Ctrl-C and `kill` stop it cleanly. SIGINT is set explicitly: Python installs its own
        # KeyboardInterrupt handler only where SIGINT was not ignored at startup, and a background
        # job or nohup starts it ignored, which would leave the server deaf to Ctrl-C.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _interrupt)
        print(f"optuna-dashboard for {', '.join(names) or 'an empty storage'} at "
              f"http://{host}:{port}/dashboard (Ctrl-C to stop)", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("dashboard stopped", file=sys.stderr)
    finally:
        server.server_close()
