"""`nas-mnist search`: run (or resume) a budgeted multi-objective study."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from search.cli.common import (
    DATA_HELP,
    DEFAULT_RESEED,
    add_device_arg,
    add_evaluate_args,
    add_study_args,
    positive_int,
)
from search.config import PRUNE_AMONG, RECIPES, SAMPLERS, SearchConfig
from search.errors import UserError

if TYPE_CHECKING:
    import optuna

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = SearchConfig  # the defaults, as class attributes: no instance, no copy
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
    add_device_arg(p)
    p.add_argument("--seed", type=int, default=d.seed, metavar="K",
                   help=f"sampler seed; trial k trains with seed K+k (default {d.seed})")
    p.add_argument("--val-size", type=int, default=d.val_size,
                   help=f"validation images carved from the 60k train set (default {d.val_size})")
    p.add_argument("--train-subset", type=positive_int,
                   help="train on the first N training images only (quick trial runs)")
    p.add_argument("--no-warm-start", dest="warm_start", action="store_false",
                   help="do not start a new study with the proven shapes re-widthed to sizes up "
                   "to the budget")
    p.add_argument("--references", action=argparse.BooleanOptionalAction, default=d.references,
                   help="start a new study with the exact reference networks that fit, each "
                   "with its own recipe, never pruned (default: no; they are the yardstick)")
    p.add_argument("--warm-from", action="append", default=[], metavar="STUDY",
                   help="start a new study also with the nets an earlier study's sampler put on "
                   "its front (same --study-dir or --storage), own recipes, re-widthed to the "
                   "budget where larger; repeat for several studies")
    p.add_argument("--net-from", metavar="STUDY#TRIAL",
                   help="search the recipe of one net: every trial trains trial TRIAL's net of "
                   "an earlier study (re-widthed to the budget where larger), the sampler draws "
                   "the recipe; the study starts with that trial's own recipe, no warm starts")
    p.add_argument("--recipe", choices=RECIPES, default=d.recipe,
                   help="how a drawn trial is trained: a recipe the sampler draws, or fast: the "
                   "warm starts' recipe (SGD OneCycle 0.1, batch 32), the sampler draws the net "
                   f"only (default {d.recipe})")
    p.add_argument("--min-params", type=int, default=d.min_params, metavar="N",
                   help="draw nets of about N params and more: a floor for each drawn net's "
                   "size (default: the smallest warm start's size, 900, where the budget is at "
                   "least twice that; 0: from the smallest net of each drawn shape)")
    p.add_argument("--sampler", choices=SAMPLERS, default=d.sampler,
                   help=f"how trials are drawn (default {d.sampler}; random: plain random search)")
    p.add_argument("--no-prune", dest="prune", action="store_false", help="train every trial fully")
    p.add_argument("--prune-among", choices=PRUNE_AMONG, default=d.prune_among,
                   help="at each rung rank a drawn trial against all trials, against the drawn "
                   "ones only (not the warm starts and references), or mixed: it goes on if on the "
                   f"front of all or in the top third of the draws (default {d.prune_among})")
    p.add_argument("--neighbours", type=float, default=d.neighbours, metavar="P",
                   help="share of the trials, once the warm starts are done, that move a couple "
                   "of values of a front member instead of drawing from TPE (default "
                   f"{d.neighbours}; 0: TPE only)")
    p.add_argument("--quiet", action="store_true", help="log lines instead of progress bars")
    p.add_argument("--jobs", type=positive_int,
                   help="trials run at once, each in its own worker process sharing the study "
                   "(default: one per CPU core, one thread each, when training on the CPU; "
                   "8 per GPU, at most one per CPU core); with --evaluate, also its retrainings "
                   "at once")
    p.add_argument("--devices", help="comma-separated devices to spread the --jobs workers over "
                   "round-robin, e.g. cuda:0,cuda:1 (instead of --device)")
    add_evaluate_args(p)  # scoring on the test set runs only after the search loop has returned
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from search.results.outputs import evaluate_and_write
    from search.store.study import StudyPaths

    a = SearchConfig.from_namespace(args)
    if args.reseed is not None and not args.evaluate:
        raise UserError("--reseed is used only with --evaluate")
    study = _search(a, args)
    if args.evaluate:
        paths = StudyPaths(a.study_root)
        from search.loop.jobs import default_jobs

        _, df = evaluate_and_write(study, paths, data_root=a.data_dir, device=a.device,
                                   reseed=DEFAULT_RESEED if args.reseed is None else args.reseed,
                                   train_subset=a.train_subset,
                                   jobs=args.jobs or default_jobs(a.device))
        print(f"test-set evaluation of {len(df)} front trials -> {paths.pareto_csv}, "
              f"{paths.pareto_png.name}, {paths.report_md.name}")
    return 0


def _search(a: SearchConfig, args: argparse.Namespace) -> optuna.Study:
    """One process (run_search), or --jobs/--devices worker processes (search.loop.jobs)."""
    from search.loop.jobs import default_jobs, parse_devices, run_jobs
    from search.loop.run import run_search

    if args.devices and args.device != SearchConfig.device:
        raise UserError("use --device or --devices, not both")
    devices = parse_devices(args.devices) if args.devices else None
    jobs = args.jobs or default_jobs(devices or a.device)
    if jobs == 1 and devices is None:
        return run_search(a)
    return run_jobs(a, jobs, devices).study
