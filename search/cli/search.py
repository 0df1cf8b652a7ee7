"""`nas-mnist search`: run (or resume) a budgeted multi-objective study."""

from __future__ import annotations

import argparse
from types import SimpleNamespace
from typing import TYPE_CHECKING

from search.cli.common import (
    DATA_HELP,
    DEFAULT_RESEED,
    add_evaluate_args,
    add_study_args,
    positive_int,
)
from search.errors import UserError

if TYPE_CHECKING:
    import optuna

    from search.loop.worker import SearchArgs

__all__ = ["DEFAULTS", "add_parser"]

# SearchArgs' defaults, written out so that `search --help` needs no torch or optuna (importing
# search.loop.worker costs seconds); tests/search/cli/test_cli.py checks they agree.
DEFAULTS = SimpleNamespace(budget=10_000, n_trials=100, epochs=15, device="auto", seed=0,
                           val_size=10_000, sampler="tpe")


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = DEFAULTS
    p = sub.add_parser("search", help="run or resume a search",
                       description="Run or resume a budgeted multi-objective search.")
    p.add_argument("--budget", type=positive_int, default=d.budget,
                   help=f"max parameters per net (default {d.budget})")
    p.add_argument("--n-trials", type=int, default=d.n_trials,
                   help="study's total of finished trials, over all runs and workers "
                   f"(default {d.n_trials}); rerunning tops the study up to it")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="seconds of this run: start no new trial after S seconds (default: none)")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"per trial (default {d.epochs})")
    add_study_args(p, name_required=False, name_help="study name (default: b<budget>)")
    p.add_argument("--data-dir", help=DATA_HELP)
    p.add_argument("--device", default=d.device, help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--seed", type=int, default=d.seed, metavar="K",
                   help=f"sampler seed; trial k trains with seed K+k (default {d.seed})")
    p.add_argument("--val-size", type=int, default=d.val_size,
                   help=f"validation images carved from the 60k train set (default {d.val_size})")
    p.add_argument("--train-subset", type=positive_int,
                   help="train on the first N training images only (quick trial runs)")
    p.add_argument("--no-references", dest="references", action="store_false",
                   help="do not start a new study with the reference networks")
    p.add_argument("--sampler", choices=("tpe", "random"), default=d.sampler,
                   help=f"how trials are drawn (default {d.sampler}; random: plain random search)")
    p.add_argument("--no-prune", dest="prune", action="store_false", help="train every trial fully")
    p.add_argument("--quiet", action="store_true", help="log lines instead of progress bars")
    p.add_argument("--jobs", type=positive_int,
                   help="trials run at once, each in its own worker process sharing the study "
                   "(default: one per CPU core, one thread each, when training on the CPU; "
                   "1 on a GPU; one per --devices entry)")
    p.add_argument("--devices", help="comma-separated devices to spread the --jobs workers over "
                   "round-robin, e.g. cuda:0,cuda:1 (instead of --device)")
    add_evaluate_args(p)  # scoring on the test set runs only after the search loop has returned
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from search.loop.worker import SearchArgs
    from search.results.outputs import evaluate_and_write

    a = SearchArgs(**{k: v for k, v in vars(args).items() if k in SearchArgs.__dataclass_fields__})
    if args.reseed is not None and not args.evaluate:
        raise UserError("--reseed is used only with --evaluate")
    study = _search(a, args)
    if args.evaluate:
        _, df = evaluate_and_write(study, a.paths, data_root=a.data_dir, device=a.device,
                                   reseed=DEFAULT_RESEED if args.reseed is None else args.reseed,
                                   train_subset=a.train_subset)
        print(f"test-set evaluation of {len(df)} front trials -> {a.paths.pareto_csv}, "
              f"{a.paths.pareto_png.name}, {a.paths.report_md.name}")
    return 0


def _search(a: SearchArgs, args: argparse.Namespace) -> optuna.Study:
    """One process (run_search), or --jobs/--devices worker processes (search.loop.jobs)."""
    from search.loop.jobs import default_jobs, parse_devices, run_jobs
    from search.loop.worker import run_search

    if args.devices and args.device != DEFAULTS.device:
        raise UserError("use --device or --devices, not both")
    devices = parse_devices(args.devices) if args.devices else None
    jobs = args.jobs or (len(devices) if devices else default_jobs(a.device))
    if jobs == 1 and devices is None:
        return run_search(a)
    return run_jobs(a, jobs, devices).study
