"""`nas-mnist pareto`: print and save a study's Pareto front; `--evaluate` scores it on test.

Every run writes pareto.csv, pareto.png (when search.plot is there) and report.md; the test columns
appear once an evaluation has stored them on the trials (see search.evaluate).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import optuna
import pandas as pd

from search.cli import add_study_args, positive_int
from search.errors import UserError
from search.run import save_front
from search.study import StudyPaths, default_storage, load_study, open_storage

__all__ = ["add_evaluate_args", "add_parser", "evaluate_and_write", "open_existing",
           "write_outputs"]

DEFAULT_RESEED = 3


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pareto", help="print and save a study's Pareto front",
                       description="Print the Pareto front and write pareto.csv, pareto.png and "
                       "report.md; --evaluate scores the front on the test set first.")
    add_study_args(p, name_required=True)
    add_evaluate_args(p)
    p.add_argument("--epochs", type=positive_int,
                   help="epochs of each reseeded run (default: the trial's own)")
    p.add_argument("--data-dir", help="MNIST root holding MNIST/raw/*.gz "
                   "(default: $NAS_MNIST_DATA or ~/.cache/nas-mnist; downloaded if missing)")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--train-subset", type=positive_int,
                   help="reseeded runs train on N of the 60k images only (quick runs, tests)")
    p.set_defaults(func=_run)


def add_evaluate_args(p: argparse.ArgumentParser) -> None:
    """--evaluate and --reseed, shared with `search`."""
    p.add_argument("--evaluate", action="store_true",
                   help="score the front on the 10k test set (final epoch, no selection) and "
                   "store test_acc / test_mean / test_sd on its trials")
    p.add_argument("--reseed", type=_non_negative_int, metavar="K",
                   help="with --evaluate: also retrain each front member K times from fresh "
                   f"seeds on all 60k training images (default {DEFAULT_RESEED}; 0: off)")


def _non_negative_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


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


def write_outputs(study: optuna.Study, paths: StudyPaths) -> pd.DataFrame:
    """pareto.csv, pareto.png and report.md; returns the front table."""
    from search.report import write_report

    df = save_front(study, paths, study.user_attrs.get("settings", {}).get("budget"))
    write_report(study, paths.report_md)
    return df


def evaluate_and_write(
    study: optuna.Study, paths: StudyPaths, *, data_root: str | None, device: str,
    reseed: int | None, epochs: int | None = None, train_subset: int | None = None,
) -> tuple[optuna.Study, pd.DataFrame]:
    """The evaluation step of `pareto --evaluate` and `search --evaluate`, then the outputs."""
    from search.evaluate import evaluate_front
    from search.train import set_cpu_threads

    set_cpu_threads()
    study = evaluate_front(
        study, paths, data_root=data_root, device=device,
        reseed=DEFAULT_RESEED if reseed is None else reseed, epochs=epochs,
        train_subset=train_subset,
    )
    return study, write_outputs(study, paths)


def _run(args: argparse.Namespace) -> int:
    if not args.evaluate:
        given = [f for f, v in (("--reseed", args.reseed), ("--epochs", args.epochs),
                                ("--data-dir", args.data_dir), ("--device", args.device),
                                ("--train-subset", args.train_subset)) if v is not None]
        if given:
            raise UserError(f"{given[0]} is used only with --evaluate")
    study, paths = open_existing(args)
    if args.evaluate:
        if args.device is not None:  # a bad device fails before the test set is read
            from search.run import resolve_device

            resolve_device(args.device)
        study, df = evaluate_and_write(
            study, paths, data_root=args.data_dir, device=args.device or "auto",
            reseed=args.reseed, epochs=args.epochs, train_subset=args.train_subset,
        )
    else:
        df = write_outputs(study, paths)
    print(f"Pareto front of study {study.study_name!r} ({len(df)} trials) -> {paths.pareto_csv}, "
          f"{paths.report_md.name}")
    if len(df):
        print(df.to_string(index=False))
    return 0
