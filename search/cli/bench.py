"""`nas-mnist bench`: training and search throughput beside the notebooks' loop
(search.bench.speed); with ``--front``, anytime front quality of the default search against random
search (search.bench.front)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from search.cli.common import non_negative_int, positive_int
from search.errors import UserError

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench", help="measure training and search throughput",
        description="Measure img/s of the notebooks' DataLoader loop vs nas-mnist's trainer on "
        "the same nets, search throughput with 1 vs N concurrent trials, and peak memory per "
        "trial; prints small tables (medians after warm-up).",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    p.add_argument("--data-dir", help="MNIST root holding MNIST/raw/*.gz "
                   "(default: $NAS_MNIST_DATA or ~/.cache/nas-mnist)")
    p.add_argument("--jobs", type=positive_int,
                   help="concurrent trials compared with 1 (default 2 on CPU, 8 on CUDA); "
                   "with --front: worker processes per run (2; 1 with --quick)")
    p.add_argument("--threads", help="comma-separated torch CPU thread counts to measure the "
                   "training loops at, e.g. 1,2 (default: torch's current setting)")
    p.add_argument("--storage", choices=("sqlite", "journal"), default="sqlite",
                   help="Optuna storage of the search section (default sqlite)")
    p.add_argument("--compile", action="store_true",
                   help="also time the trainer with torch.compile (slow to start; CPU/GPU)")
    p.add_argument("--only", choices=("train", "search"), help="run one section only")
    f = p.add_argument_group("anytime front (--front)")
    f.add_argument("--front", action="store_true",
                   help="instead: the default search vs random search without pruning or warm "
                   "starts, same wall time per seed, interleaved; validation-front hypervolume "
                   "against wall time (table, CSV, PNG). Default about an hour on 2 CPU cores")
    f.add_argument("--seeds", type=positive_int, help="seeds per arm (2)")
    f.add_argument("--first-seed", type=non_negative_int,
                   help="seed of the first run: the runs are seeds K, K+1, ... (0); to add seeds "
                   "to an earlier bench")
    f.add_argument("--minutes", type=_positive_float, help="wall time per arm and seed (12)")
    f.add_argument("--epochs", type=positive_int, help="epochs per trial (8)")
    f.add_argument("--budget", type=positive_int, help="max parameters per net (10000)")
    f.add_argument("--train-subset", type=positive_int,
                   help="train on the first N training images only (default all 50,000)")
    f.add_argument("--val-size", type=positive_int, help="validation images (10000)")
    f.add_argument("--ref-acc", type=float, help="hypervolume reference accuracy in %% (90)")
    f.add_argument("--against", metavar="REV",
                   help="arm b is the default search of git revision REV (its own code, run from "
                   "a temporary git worktree) instead of random search")
    f.add_argument("--score", action="append", type=Path, metavar="DIR",
                   help="instead of running: score the studies of earlier benches in DIR "
                   "(repeatable) as one bench at --minutes, e.g. seeds added with --first-seed, "
                   "or a 30-minute bench at 12")
    f.add_argument("--out", type=Path, help="folder for the studies, CSVs and PNG "
                   "(default studies/bench-front-<date>-<time>)")
    p.set_defaults(func=_run)


_FRONT_ONLY = ("seeds", "first_seed", "minutes", "epochs", "budget", "train_subset", "val_size",
               "ref_acc", "against", "score", "out")
# what a run needs but scoring does not: refused with --score rather than silently ignored
# (budget, epochs and data sizes are the studies' own)
_NOT_SCORE = ("seeds", "first_seed", "epochs", "budget", "train_subset", "val_size", "jobs",
              "against")
_NOT_FRONT = ("threads", "compile", "only")


def _positive_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {s}")
    return v


def _threads(spec: str | None) -> list[int] | None:
    if spec is None:
        return None
    try:
        out = [int(s) for s in spec.split(",") if s.strip()]
    except ValueError:
        out = []
    if not out or min(out) < 1:
        raise UserError(f"--threads needs positive whole numbers like 1,2, got {spec!r}")
    return out


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _front(args: argparse.Namespace) -> int:
    if bad := [_flag(n) for n in _NOT_FRONT if getattr(args, n) not in (None, False)]:
        raise UserError(f"{', '.join(bad)} cannot be used with --front")
    from dataclasses import replace

    from search.bench.front import FULL, QUICK, format_front, run_front

    plan = QUICK if args.quick else FULL
    given = {k: getattr(args, k) for k in (*_FRONT_ONLY[:-3], "jobs")
             if getattr(args, k) is not None}  # --against, --score, --out are not plan fields
    plan = replace(plan, **given)
    out = args.out or Path("studies") / f"bench-front-{datetime.now():%Y%m%d-%H%M%S}"
    if args.score:
        if bad := [_flag(n) for n in _NOT_SCORE if getattr(args, n) is not None]:
            raise UserError(f"{', '.join(bad)} cannot be used with --score")
        from search.bench.rescore import score_studies

        print(format_front(score_studies(args.score, plan, out)))
        return 0
    print(format_front(run_front(plan, out, data_dir=args.data_dir, device=args.device,
                                 against=args.against)))
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.front:
        return _front(args)
    if bad := [_flag(n) for n in _FRONT_ONLY if getattr(args, n) is not None]:
        raise UserError(f"{', '.join(bad)} need --front")
    from search.bench.speed import (  # torch/torchvision only when benchmarking
        format_result,
        run_bench,
    )

    res = run_bench(args.device, quick=args.quick, data_dir=args.data_dir, jobs=args.jobs,
                    threads=_threads(args.threads), storage=args.storage,
                    sections=(args.only,) if args.only else ("train", "search"),
                    compile=args.compile)
    print(format_result(res))
    return 0
