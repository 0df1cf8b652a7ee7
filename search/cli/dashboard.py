"""`nas-mnist dashboard`: optuna-dashboard on a study's storage and its artifact store
(search.results.dashboard)."""

from __future__ import annotations

import argparse
from pathlib import Path

from search.config import SearchConfig

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dashboard", help="browse studies in optuna-dashboard",
        description="Serve optuna-dashboard on a study's storage with its artifacts (weights, "
        "exported scripts) until Ctrl-C. With --study-dir and no --study, the folder must hold "
        "exactly one study.")
    p.add_argument("--study", "--study-name", dest="study_name",
                   help="study to serve (default: the only *.db in --study-dir)")
    p.add_argument("--study-dir", type=Path, default=SearchConfig.study_dir,
                   help="folder of SQLite studies and their artifacts "
                   f"(default: {SearchConfig.study_dir})")
    p.add_argument("--storage", help="Optuna storage URL, e.g. postgresql://user@host/db; "
                   "serves every study in it")
    p.add_argument("--port", type=_port, default=8080, help="port (default 8080)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only; the dashboard "
                   "has no login, so bind others with care)")
    p.set_defaults(func=_run)


def _port(s: str) -> int:
    if not s.isdigit() or not 0 < int(s) < 65536:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {s!r}")
    return int(s)


def _run(args: argparse.Namespace) -> int:
    from search.results.dashboard import serve

    serve(Path(args.study_dir), args.study_name, args.storage, args.host, args.port)
    return 0
