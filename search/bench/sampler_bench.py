"""Which multi-objective sampler: TPE vs NSGA-II vs random on the real objective, at small scale.

`python -m search.bench.sampler_bench --data-dir D` runs the same short study (real MNIST
subset, real
training, no pruning, no reference warm starts) with each sampler and several seeds, and prints per
run and per sampler: the front's hypervolume (accuracy above ``--ref-acc`` times log10 of the
parameter range below the budget, so that a gain at 500 params counts like one at 5,000), the
front's size, the best accuracy, and the best under 2,000 params. ``--jobs N`` runs N of the
(sampler, seed) studies at once, in processes of one torch thread each. It is the measurement
behind the study's sampler (search.store.samplers.make_sampler).
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import statistics
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import TYPE_CHECKING

import optuna
import pandas as pd

if TYPE_CHECKING:
    from search.training.data import MnistData

__all__ = ["Run", "hypervolume", "main", "run_one"]

SAMPLERS = ("tpe", "nsga2", "random")


def hypervolume(points: list[tuple[float, int]], ref_acc: float, ref_params: int, *,
                log: bool = False) -> float:
    """Area dominated by (acc %, params) points above ref_acc and below ref_params: in pp*params,
    or with ``log`` in pp*decades (params on a log10 axis).

    Hand-written: 2-D is a sort and a sum, and Optuna's hypervolume helper is private API.
    """
    x = math.log10 if log else float
    pts = sorted((p, a) for a, p in points if a > ref_acc and p < ref_params)
    area, best = 0.0, ref_acc
    for i, (p, a) in enumerate(pts):
        best = max(best, a)  # accuracy reachable with <= p params
        nxt = pts[i + 1][0] if i + 1 < len(pts) else ref_params
        area += (x(nxt) - x(p)) * (best - ref_acc)
    return area


def _sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    from search.store.samplers import make_sampler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":  # exactly the study's own sampler
            return make_sampler(seed)
        if name == "nsga2":  # small population so that several generations fit in the run
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=10)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown sampler {name!r}; known: {', '.join(SAMPLERS)}")


@dataclass(frozen=True)
class Run:
    """One short study: which sampler and seed, and how big."""

    sampler: str
    seed: int
    data_dir: str | None
    budget: int  # params
    trials: int
    epochs: int  # per trial
    train_subset: int  # training images
    val_size: int  # validation images
    ref_acc: float  # % : hypervolume reference accuracy


@functools.cache
def _data(data_dir: str | None, val_size: int, subset: int) -> MnistData:
    """MNIST once per process: a worker of --jobs runs several studies on the same split."""
    from search.training.data import load_mnist

    return load_mnist(data_dir, val_size=val_size, subset=subset)


def run_one(r: Run) -> dict[str, object]:
    """Run one study in memory and summarise its front (a row of the results table)."""
    import torch

    from search.loop.objective import Objective
    from search.loop.pruner import ParetoPruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = _data(r.data_dir, r.val_size, r.train_subset)
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=_sampler(r.sampler, r.seed))
    obj = Objective(budget=r.budget, epochs=r.epochs, seed=r.seed, data=data, target=r.trials,
                    pruner=ParetoPruner(enabled=False))  # never prunes: full curves
    t0 = time.perf_counter()
    study.optimize(obj, n_trials=r.trials)
    front = [(float(t.values[0]), int(t.values[1])) for t in study.best_trials]
    small = [acc for acc, p in front if p <= 2000]
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return {
        "sampler": r.sampler, "seed": r.seed,
        "hv_log": round(hypervolume(front, r.ref_acc, r.budget, log=True), 3),
        "hv_lin_k": round(hypervolume(front, r.ref_acc, r.budget) / 1e3, 1),
        "front": len(front), "best": max(acc for acc, _ in front),
        "best<=2k": max(small, default=float("nan")),
        "median_acc": statistics.median(t.values[0] for t in done),
        "s": round(time.perf_counter() - t0), "threads": torch.get_num_threads(),
    }


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir")
    ap.add_argument("--budget", type=int, default=10_000)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train-subset", type=int, default=7000)
    ap.add_argument("--val-size", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--samplers", default=",".join(SAMPLERS))
    ap.add_argument("--ref-acc", type=float, default=90.0,
                    help="hypervolume reference accuracy in %% (default 90)")
    ap.add_argument("--jobs", type=int, default=1, help="studies run at once (1 thread each)")
    ap.add_argument("--out", help="also write the per-run table to this CSV file")
    a = ap.parse_args(argv)
    names = [s.strip() for s in a.samplers.split(",") if s.strip()]
    for n in names:
        _sampler(n, 0)  # an unknown name fails now, not after an hour of other runs
    # seed-major order, so that an interrupted run has every sampler at the seeds it finished
    runs = [Run(n, seed, a.data_dir, a.budget, a.trials, a.epochs, a.train_subset, a.val_size,
                a.ref_acc) for seed in range(a.seeds) for n in names]
    rows = []
    if a.jobs > 1:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        with ProcessPoolExecutor(a.jobs, mp_context=get_context("spawn"),
                                 initializer=_one_thread) as pool:
            for row in pool.map(run_one, runs):
                rows.append(row)
                print(row, flush=True)
    else:
        for r in runs:
            rows.append(run_one(r))
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    print(df.to_string(index=False))
    if a.out:
        df.to_csv(a.out, index=False)
    summary = df.groupby("sampler").agg(
        hv_log_mean=("hv_log", "mean"), hv_log_sd=("hv_log", "std"),
        hv_log_min=("hv_log", "min"), best_mean=("best", "mean"),
        small_mean=("best<=2k", "mean"), front_mean=("front", "mean"))
    print(summary.round(3).to_string())


if __name__ == "__main__":
    main()
