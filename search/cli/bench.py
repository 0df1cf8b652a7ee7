"""`nas-mnist bench SUBCOMMAND`: the benchmarks, one subcommand each, each with only its own flags.

speed (search.bench.speed), front (search.bench.front), score (search.bench.score), shapes
(search.bench.shapes), first-epoch (search.bench.first_epoch). Their plans (search.bench.plans) are
torch-free, so the help shows their defaults without a copy here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import datetime
from pathlib import Path

from search.bench.plans import (
    ARMS,
    BENCH_EPOCHS,
    DEFAULT_ARMS,
    FULL,
    PANEL_PLANS,
    PLANS,
    QUICK,
    SPEED_NAMES,
    FrontPlan,
)
from search.cli.common import (
    DATA_HELP,
    add_device_arg,
    comma_words,
    knob_value,
    non_negative_int,
    positive_float,
    positive_int,
    whole_numbers,
)
from search.config import SearchConfig
from search.errors import UserError

__all__ = ["SUBCOMMANDS", "add_parser"]

SUBCOMMANDS = ("speed", "front", "score", "shapes", "first-epoch")
_HELP = "see nas-mnist bench --help"


def _moved(args: list[str]) -> str | None:
    """The new form of a pre-subcommand `bench` command line, or None if it is not one."""
    first = args[0] if args else None
    if first in SUBCOMMANDS or first in ("-h", "--help") or (first and first[0] != "-"):
        return None  # a subcommand, help, or a typo that argparse names
    if "--front" in args:
        if any(a == "--score" or a.startswith("--score=") for a in args):
            return f"`bench --front --score DIR` is now `nas-mnist bench score DIR` ({_HELP})"
        return f"`bench --front` is now `nas-mnist bench front` ({_HELP})"
    return (f"`nas-mnist bench` is now `nas-mnist bench speed` (or front, score, shapes, "
            f"first-epoch; {_HELP})")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure throughput, front quality and warm-start shapes",
                       description="Benchmarks of the trainer and the search.", moved=_moved)
    bench = p.add_subparsers(dest="bench_command", required=True, metavar="SUBCOMMAND",
                             parser_class=type(p))
    _speed(bench)
    _front(bench)
    _score(bench)
    _shapes(bench)
    _first_epoch(bench)


def _speed(sub: argparse._SubParsersAction) -> None:
    cpu, cuda, full = PLANS[("cpu", False)], PLANS[("cuda", False)], PANEL_PLANS["full"]
    p = sub.add_parser(
        "speed", help="trainer throughput over a fixed panel of nets (or the older sections)",
        description="Train every net of a fixed panel (references, warm-start shapes, narrow "
        "full-resolution nets, seeded draws; search/bench/panel.json) at each batch size with "
        "nas-mnist's trainer: img/s, training GFLOP/s from analytic MACs, share of the device's "
        "measured matmul peak, seconds per full epoch. With several --speeds, each runs in its "
        "own process, in turn. --only train / search: the notebook loop vs the trainer, and "
        "search throughput with 1 vs N workers.")
    add_device_arg(p)
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    p.add_argument("--data-dir", help=DATA_HELP)
    p.add_argument("--only", choices=("panel", "train", "search"), default="panel",
                   help="panel (default); train: notebook loop vs trainer; search: 1 vs N workers")
    g = p.add_argument_group("panel")
    g.add_argument("--plan", choices=tuple(PANEL_PLANS), help="how much (default full: "
                   f"{full.images:,} images per timed epoch, {full.reps} epochs per cell; levers: "
                   "3 nets x 2 batch sizes, for the costly switches; quick with --quick)")
    g.add_argument("--speeds", default="default", help="comma-separated trainer speeds: "
                   f"{', '.join(SPEED_NAMES)} (default: default); the first is the base others "
                   "are compared with")
    g.add_argument("--rounds", type=positive_int, default=1,
                   help="times each speed runs, in turn (default 1)")
    g.add_argument("--nets", help="comma-separated panel nets (default: the plan's)")
    g.add_argument("--batches", type=whole_numbers,
                   help="comma-separated batch sizes (default: the plan's)")
    g.add_argument("--profile", metavar="NET", help="instead: torch.profiler's table of one "
                   "epoch of NET at --batch with the first --speeds")
    g.add_argument("--batch", type=positive_int, default=128, help="with --profile (128)")
    g.add_argument("--out", type=Path, help="also write panel.csv (every measurement) and "
                   "panel.txt (the table) there")
    o = p.add_argument_group("--only train / search")
    o.add_argument("--jobs", type=whole_numbers, help="comma-separated counts of concurrent "
                   f"trials compared with 1 (default {cpu.jobs} on CPU, {cuda.jobs} on CUDA)")
    o.add_argument("--threads", type=whole_numbers,
                   help="comma-separated torch CPU thread counts to measure the "
                   "training loops at, e.g. 1,2 (default: torch's current setting)")
    o.add_argument("--storage", choices=("sqlite", "journal"), default="sqlite",
                   help="Optuna storage of the search section (default sqlite)")
    o.add_argument("--compile", action="store_true",
                   help="also time the trainer with torch.compile (slow to start; CPU/GPU)")
    p.set_defaults(func=_run_speed)


def _plan_args(p: argparse.ArgumentParser, quick: str) -> None:
    """What a bench front run and its scoring share: the time budget and the HV reference."""
    p.add_argument("--quick", action="store_true", help=f"{quick} (the smoke-test plan: "
                   f"{QUICK.minutes * 60:g} s per arm and seed, HV reference {QUICK.ref_acc:g} %%)")
    p.add_argument("--minutes", type=positive_float,
                   help=f"wall time per arm and seed (default {FULL.minutes:g})")
    p.add_argument("--ref-acc", type=float,
                   help=f"hypervolume reference accuracy in %% (default {FULL.ref_acc:g})")
    p.add_argument("--out", type=Path, help="folder for the CSVs and PNG "
                   "(default studies/bench-front-<date>-<time>)")


def _front(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "front", help="anytime front quality: the default search vs random search or MOASHA",
        description="The default search vs random search without pruning, warm starts or "
        "references (or --against another revision's default search, or Syne Tune's MOASHA "
        "with --arms), the same wall time per seed, interleaved; validation-front hypervolume "
        "against wall time (table, CSV, PNG). Default about an hour on 2 CPU cores.")
    add_device_arg(p)
    p.add_argument("--data-dir", help=DATA_HELP)
    _plan_args(p, f"{QUICK.seeds} seeds at {QUICK.epochs} epoch, {QUICK.budget:,} params, "
               f"{QUICK.train_subset:,} images, in this process")
    p.add_argument("--jobs", type=positive_int, help="worker processes per run "
                   f"(default {FULL.jobs}; {QUICK.jobs} with --quick)")
    p.add_argument("--seeds", type=positive_int, help=f"seeds per arm (default {FULL.seeds})")
    p.add_argument("--first-seed", type=non_negative_int,
                   help="seed of the first run: the runs are seeds K, K+1, ... "
                   f"(default {FULL.first_seed}); to add seeds to an earlier bench")
    p.add_argument("--epochs", type=positive_int, help=f"per trial (default {FULL.epochs})")
    p.add_argument("--budget", type=positive_int,
                   help=f"max parameters per net (default {FULL.budget})")
    p.add_argument("--train-subset", type=positive_int,
                   help="train on the first N training images only (default all 50,000)")
    p.add_argument("--val-size", type=positive_int,
                   help=f"validation images (default {FULL.val_size})")
    p.add_argument("--arms", type=comma_words, default=DEFAULT_ARMS, metavar="X,Y,...",
                   help="the arms, in the order each seed runs them (default "
                   f"{','.join(DEFAULT_ARMS)}): "
                   + "; ".join(f"{k} {v}" for k, v in ARMS.items())
                   + " (c and d need the peers extra: pip install -e '.[peers]')")
    p.add_argument("--against", metavar="REV",
                   help="arm b is the default search of git revision REV (its own code, run from "
                   "a temporary git worktree) instead of random search")
    p.set_defaults(func=_run_front)


def _score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score", help="score earlier `bench front` runs as one bench",
        description="Score the studies of earlier `bench front` runs (a-s<K>.db, b-s<K>.db, "
        "c-s<K>.db, ... in each DIR) as one bench at --minutes, without training: e.g. seeds "
        "added with --first-seed, or a 30-minute bench read at 12 minutes. Budget, epochs and "
        "data sizes are the studies' own.")
    p.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="a `bench front` --out folder")
    _plan_args(p, "score as a `bench front --quick` run")
    p.set_defaults(func=_run_score)


def _shapes(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "shapes", help="a warm-start shape trained at a few sizes",
        description="Train a warm-start shape (space.warmstart.SHAPES) re-widthed to each size, "
        "with the fast recipe or --set overrides, on one thread; one JSON line per size with the "
        "validation accuracy (%) after every epoch.")
    p.add_argument("--data-dir", help=DATA_HELP)
    p.add_argument("--shape", default="onepool", help="a key of space.warmstart.SHAPES "
                   "(default onepool)")
    p.add_argument("--sizes", type=whole_numbers, default=[900, 2200, 4500, 9400],
                   help="comma-separated params (default 900,2200,4500,9400)")
    _run_args(p)
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--set", action="append", default=[], type=knob_value,
                   metavar="KNOB=VALUE",
                   help="override a sampler draw, e.g. rotate=0 (repeatable)")
    p.set_defaults(func=_run_shapes)


def _first_epoch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "first-epoch", help="validation accuracy of random draws after their first epoch",
        description="Train random draws of the search space (each with its own recipe and "
        "schedule) for one epoch, on one CPU thread; one JSON line per draw and their median.")
    p.add_argument("--data-dir", help=DATA_HELP)
    _run_args(p)
    p.add_argument("--draws", type=positive_int, default=12, help="draws (default 12)")
    p.add_argument("--first", type=non_negative_int, default=0,
                   help="seed of the first draw (default 0)")
    p.set_defaults(func=_run_first_epoch)


def _run_args(p: argparse.ArgumentParser) -> None:
    """Budget, epochs and data of the one-net benches (shapes, first-epoch)."""
    p.add_argument("--budget", type=positive_int, default=SearchConfig.budget,
                   help=f"max parameters per net (default {SearchConfig.budget})")
    p.add_argument("--epochs", type=positive_int, default=BENCH_EPOCHS,
                   help=f"the recipe's epochs (default {BENCH_EPOCHS})")
    p.add_argument("--train-subset", type=positive_int,
                   help="train on the first N training images only (default all 50,000)")
    p.add_argument("--val-size", type=positive_int, default=SearchConfig.val_size,
                   help=f"validation images (default {SearchConfig.val_size})")


def _plan(args: argparse.Namespace) -> FrontPlan:
    """The --quick or full plan, with every plan field given on the command line."""
    names = {f.name for f in dataclasses.fields(FrontPlan)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    return dataclasses.replace(QUICK if args.quick else FULL, **given)


def _out(args: argparse.Namespace) -> Path:
    return args.out or SearchConfig.study_dir / f"bench-front-{datetime.now():%Y%m%d-%H%M%S}"


def _run_speed(args: argparse.Namespace) -> int:
    if args.only != "panel":
        from search.bench.speed import format_result, run_bench  # torch only when benchmarking

        res = run_bench(args.device, quick=args.quick, data_dir=args.data_dir, jobs=args.jobs,
                        threads=args.threads, storage=args.storage,
                        sections=(args.only,), compile=args.compile)
        print(format_result(res))
        return 0
    speeds = [s.strip() for s in args.speeds.split(",") if s.strip()]
    if bad := [s for s in speeds if s not in SPEED_NAMES] or not speeds:
        raise UserError(f"--speeds: unknown {', '.join(bad) or 'nothing'}; "
                        f"choose from {', '.join(SPEED_NAMES)}")
    plan = PANEL_PLANS["quick" if args.quick else args.plan or "full"]
    if args.nets:
        plan = dataclasses.replace(plan, nets=tuple(n.strip() for n in args.nets.split(",")))
    if args.batches:
        plan = dataclasses.replace(plan, batches=tuple(args.batches))
    from search.bench.panel import run_speed  # torch only when benchmarking

    print(run_speed(plan, speeds, rounds=args.rounds, device=args.device,
                    data_dir=args.data_dir, profile=args.profile, batch=args.batch,
                    out=args.out))
    return 0


def _run_front(args: argparse.Namespace) -> int:
    from search.bench.front import format_front, run_front

    print(format_front(run_front(_plan(args), _out(args), arms=args.arms,
                                 data_dir=args.data_dir, device=args.device,
                                 against=args.against)))
    return 0


def _run_score(args: argparse.Namespace) -> int:
    from search.bench.front import format_front
    from search.bench.score import score_studies

    print(format_front(score_studies(args.dirs, _plan(args), _out(args))))
    return 0


def _run_shapes(args: argparse.Namespace) -> int:
    from search.bench.shapes import run_shapes

    for row in run_shapes(args.shape, args.sizes, budget=args.budget, epochs=args.epochs,
                          data_dir=args.data_dir, val_size=args.val_size,
                          train_subset=args.train_subset, overrides=dict(args.set),
                          seed=args.seed):
        print(json.dumps(row), flush=True)
    return 0


def _run_first_epoch(args: argparse.Namespace) -> int:
    from search.bench.first_epoch import run_first_epochs, summary_line

    accs = []
    for row in run_first_epochs(range(args.first, args.first + args.draws), budget=args.budget,
                                epochs=args.epochs, data_dir=args.data_dir,
                                val_size=args.val_size, train_subset=args.train_subset):
        accs.append(row["acc1"])
        print(json.dumps(row), flush=True)
    print(summary_line(accs))
    return 0
