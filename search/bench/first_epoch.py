"""How fast randomly drawn nets learn: validation accuracy after the first epoch (the pruner's
first rung) of random draws of the search space, each trained as a search trial would be.

    python -m search.bench.first_epoch --data-dir D --budget 10000 --epochs 8 --draws 12

Each draw comes from a RandomSampler seeded by its index, is trained with its own recipe for
``--epochs`` (so its schedule is the one a search trial gets) and stopped after the first epoch.
It checks the training-knob bounds in space/recipe.py ("the median random draw should pass 95 %
by the first rung at full data"). One thread, one draw at a time; run two copies with different
``--first`` to use two cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch only when measuring
    from search.training.data import MnistData

__all__ = ["first_epoch_acc", "main"]


def first_epoch_acc(seed: int, budget: int, epochs: int, data: MnistData) -> dict:
    """Draw `seed` of the space under `budget`; its val acc (%) after epoch 1 of `epochs`."""
    import optuna
    import torch

    from search.training.train import train
    from space import build, count_params, sample

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
    cand = sample(trial, budget, epochs)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    hist = train(build(cand.net), cand.train, data, seed=seed, on_epoch=lambda s: "first rung")
    tr = cand.train
    return {"seed": seed, "params": count_params(cand.net),
            "acc1": round(100 * hist.epochs[0].val_acc, 2),
            "seconds": round(time.perf_counter() - t0, 1), "optimizer": tr.optimizer,
            "lr": tr.lr, "schedule": tr.schedule, "batch_size": tr.batch_size}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m search.bench.first_epoch", description=__doc__)
    p.add_argument("--data-dir")
    p.add_argument("--budget", type=int, default=10_000)
    p.add_argument("--epochs", type=int, default=8, help="the schedule's length (default 8)")
    p.add_argument("--draws", type=int, default=12)
    p.add_argument("--first", type=int, default=0, help="seed of the first draw")
    p.add_argument("--train-subset", type=int)
    p.add_argument("--val-size", type=int, default=10_000)
    args = p.parse_args(argv)

    import torch

    from search.training.data import load_mnist

    torch.set_num_threads(1)
    data = load_mnist(args.data_dir, device=torch.device("cpu"), val_size=args.val_size,
                      subset=args.train_subset)
    accs = []
    for seed in range(args.first, args.first + args.draws):
        row = first_epoch_acc(seed, args.budget, args.epochs, data)
        accs.append(row["acc1"])
        print(json.dumps(row), flush=True)
    print(f"median first-epoch val acc over {len(accs)} draws: {statistics.median(accs):.2f} % "
          f"(range {min(accs):.2f}-{max(accs):.2f}; {sum(a >= 95 for a in accs)} at >= 95 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
