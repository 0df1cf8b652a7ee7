"""`nas-mnist pareto`: print and save the Pareto front of a study."""

from __future__ import annotations

import argparse
from pathlib import Path

from search.cli import add_study_args
from search.errors import UserError
from search.pareto import write_front
from search.study import StudyPaths, default_storage, load_study, open_storage

__all__ = ["add_parser", "open_existing"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pareto", help="print and save a study's Pareto front",
                       description="Print the Pareto front and write pareto.csv (and pareto.png).")
    add_study_args(p, name_required=True)
    p.set_defaults(func=_run)


def open_existing(args: argparse.Namespace):  # -> (optuna.Study, StudyPaths)
    """Load an existing study named by --study/--storage/--study-dir, or a one-line error."""
    from search.study import check_study_name

    name = check_study_name(args.study_name)
    url = args.storage
    if url is None:
        db = Path(args.study_dir) / f"{name}.db"
        if not db.is_file():
            raise UserError(f"no study named {name!r}: {db} does not exist")
        url = default_storage(Path(args.study_dir), name)
    study = load_study(open_storage(url, heartbeat=False), name)
    return study, StudyPaths(Path(args.study_dir) / name)


def _run(args: argparse.Namespace) -> int:
    study, paths = open_existing(args)
    df = write_front(study, paths.pareto_csv)
    try:
        from search.plot import plot_front

        budget = study.user_attrs.get("settings", {}).get("budget")
        plot_front(study, paths.pareto_png, budget=budget)
    except ImportError:
        pass
    print(f"Pareto front of study {study.study_name!r} ({len(df)} trials) -> {paths.pareto_csv}")
    if len(df):
        print(df.to_string(index=False))
    return 0
