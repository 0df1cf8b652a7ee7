"""How well a warm-start shape trains at a few sizes: the numbers behind space.warmstart.PLAN.

    python -m search.bench.shapes --data-dir D --shape onepool --sizes 900,2200,4500 --epochs 8

Each size is the shape of ``space.warmstart.SHAPES`` re-widthed as a warm start is (the widest
version with at most that many params, under ``--budget``), trained with ``FAST_RECIPE`` or with
``--set knob=value`` overrides of any sampler draw (e.g. ``--set rotate=0 --set lr_sgd=0.05``), one
thread, on 50k train / 10k val images; one JSON line per run with the validation accuracy (%) after
every epoch. Run two copies side by side to use two cores.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

__all__ = ["main", "train_shape"]


def _value(s: str) -> Any:
    """'0.05' -> 0.05, '3' -> 3, 'true' -> True, anything else stays a string."""
    low = s.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(s)
        except ValueError:
            pass
    return s


def train_shape(shape: str, target: int, *, budget: int, epochs: int, data: Any,
                overrides: dict[str, Any] | None = None, seed: int = 0) -> dict[str, Any]:
    """Train warm-start `shape` at <= `target` params; its curve and wall time."""
    import torch

    from search.training.train import train
    from space import build, count_params, decode, describe, size_for
    from space.warmstart import FAST_RECIPE, SHAPES

    p = {**SHAPES[shape], **FAST_RECIPE, **(overrides or {})}
    p["size"] = size_for(p, budget, target)
    cand = decode(p, budget, epochs)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    hist = train(build(cand.net), cand.train, data, seed=seed)
    return {"shape": shape, "target": target, **(overrides or {}),
            "params": count_params(cand.net), "arch": describe(cand.net),
            "val_acc": [round(100 * a, 2) for a in hist.val_acc],
            "seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m search.bench.shapes", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir")
    p.add_argument("--shape", default="onepool", help="a key of space.warmstart.SHAPES")
    p.add_argument("--sizes", default="900,2200,4500,9400", help="comma-separated params")
    p.add_argument("--budget", type=int, default=10_000)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE",
                   help="override a sampler draw, e.g. rotate=0 (repeatable)")
    p.add_argument("--train-subset", type=int)
    p.add_argument("--val-size", type=int, default=10_000)
    args = p.parse_args(argv)
    from space.warmstart import SHAPES

    if args.shape not in SHAPES:
        p.error(f"--shape: unknown shape {args.shape!r}; known: {', '.join(SHAPES)}")
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        overrides = {k: _value(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    except ValueError:
        p.error("--sizes needs whole numbers like 900,2200 and --set KNOB=VALUE")

    import torch

    from search.training.data import load_mnist

    torch.set_num_threads(1)
    data = load_mnist(args.data_dir, val_size=args.val_size, subset=args.train_subset)
    for target in sizes:
        row = train_shape(args.shape, target, budget=args.budget, epochs=args.epochs, data=data,
                          overrides=overrides, seed=args.seed)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
