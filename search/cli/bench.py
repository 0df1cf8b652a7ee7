"""`nas-mnist bench`: training and search throughput beside the notebooks' loop
(search.bench.speed)."""

from __future__ import annotations

import argparse

from search.cli.common import positive_int
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
                   help="concurrent trials compared with 1 (default 2 on CPU, 8 on CUDA)")
    p.add_argument("--threads", help="comma-separated torch CPU thread counts to measure the "
                   "training loops at, e.g. 1,2 (default: torch's current setting)")
    p.add_argument("--storage", choices=("sqlite", "journal"), default="sqlite",
                   help="Optuna storage of the search section (default sqlite)")
    p.add_argument("--compile", action="store_true",
                   help="also time the trainer with torch.compile (slow to start; CPU/GPU)")
    p.add_argument("--only", choices=("train", "search"), help="run one section only")
    p.set_defaults(func=_run)


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


def _run(args: argparse.Namespace) -> int:
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
