"""`nas-mnist bench first-epoch`: how fast randomly drawn nets learn: validation accuracy after
the first epoch (the pruner's first rung) of random draws of the search space, each trained as a
search trial would be.

Each draw comes from a RandomSampler seeded by its index, is trained with its own recipe for the
given epochs (so its schedule is the one a search trial gets) and stopped after the first epoch.
It checks the training-knob bounds in space/recipe.py ("the median random draw should pass 95 %
by the first rung at full data"). One thread, one draw at a time; run two copies with different
first seeds to use two cores.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch only when measuring
    from search.training.data import MnistData

__all__ = ["LEARNED", "first_epoch_acc", "run_first_epochs", "summary_line"]

LEARNED = 95.0  # % val after the first epoch that a good space's median draw should pass


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


def run_first_epochs(seeds: Sequence[int], *, budget: int, epochs: int, data_dir: str | None,
                     val_size: int, train_subset: int | None) -> Iterator[dict]:
    """One row per draw, on one CPU thread, as each finishes."""
    import torch

    from search.training.data import load_mnist

    torch.set_num_threads(1)
    data = load_mnist(data_dir, device=torch.device("cpu"), val_size=val_size,
                      subset=train_subset)
    for seed in seeds:
        yield first_epoch_acc(seed, budget, epochs, data)


def summary_line(accs: Sequence[float]) -> str:
    return (f"median first-epoch val acc over {len(accs)} draws: {statistics.median(accs):.2f} % "
            f"(range {min(accs):.2f}-{max(accs):.2f}; {sum(a >= LEARNED for a in accs)} at "
            f">= {LEARNED:g} %)")
