"""`nas-mnist pareto`: print and save a study's Pareto front; `--evaluate` scores it on test.

Every run writes pareto.csv, pareto.png and report.md; the test columns appear once an evaluation
has stored them on the trials (see search.results.evaluate).
"""

from __future__ import annotations

import argparse

from search.cli.common import (
    DATA_HELP,
    DEFAULT_RESEED,
    add_evaluate_args,
    add_study_args,
    positive_int,
)
from search.errors import UserError

__all__ = ["add_parser", "trial_list"]


def trial_list(s: str) -> list[int]:
    """'3,7,12' -> [3, 7, 12]."""
    try:
        out = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected trial numbers like 3,7,12, got {s!r}") from None
    if not out or min(out) < 0:
        raise argparse.ArgumentTypeError(f"expected trial numbers like 3,7,12, got {s!r}")
    return out


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pareto", help="print and save a study's Pareto front",
                       description="Print the Pareto front and write pareto.csv, pareto.png and "
                       "report.md; --evaluate scores the front on the test set first.")
    add_study_args(p, name_required=True)
    add_evaluate_args(p)
    p.add_argument("--epochs", type=positive_int,
                   help="epochs of each reseeded run (default: the trial's own)")
    p.add_argument("--data-dir", help=DATA_HELP)
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--train-subset", type=positive_int,
                   help="reseeded runs train on N of the 60k images only (quick runs, tests)")
    p.add_argument("--jobs", type=positive_int,
                   help="retrainings at once, each in its own worker process (default, as "
                   "search: one per CPU core, one thread each, on the CPU; 8 per GPU)")
    p.add_argument("--trials", type=trial_list, metavar="N,M,...",
                   help="score these completed trials instead of the whole front (e.g. the "
                   "members that decide a comparison, or a reference that ran in the study)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if not args.evaluate:
        given = [f for f, v in (("--reseed", args.reseed), ("--epochs", args.epochs),
                                ("--data-dir", args.data_dir), ("--device", args.device),
                                ("--train-subset", args.train_subset),
                                ("--trials", args.trials), ("--jobs", args.jobs)) if v is not None]
        if given:
            raise UserError(f"{given[0]} is used only with --evaluate")
    from search.results.outputs import evaluate_and_write, write_outputs
    from search.results.pareto import front_summary
    from search.store.study import open_existing

    study, paths = open_existing(args.study_name, args.storage, args.study_dir)
    if args.evaluate:
        if args.device is not None:  # a bad device fails before the test set is read
            from search.training.device import resolve_device

            resolve_device(args.device)
        from search.loop.jobs import default_jobs

        study, df = evaluate_and_write(
            study, paths, data_root=args.data_dir, device=args.device or "auto",
            reseed=DEFAULT_RESEED if args.reseed is None else args.reseed, epochs=args.epochs,
            train_subset=args.train_subset, trials=args.trials,
            jobs=args.jobs or default_jobs(args.device or "auto"),
        )
    else:
        df = write_outputs(study, paths)
    files = [paths.pareto_csv, paths.pareto_png, paths.report_md]
    print(front_summary(study.study_name, df, [f for f in files if f.is_file()]))
    return 0
