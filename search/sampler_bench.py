"""Which multi-objective sampler: TPE vs NSGA-II vs random on the real objective, at small scale.

`python -m search.sampler_bench --data-dir D` runs the same short study (real MNIST subset, real
training, no pruning, no references) with each sampler and several seeds, and prints the front's
hypervolume, its size, and the best accuracy under 2,000 params. It is the measurement behind the
study's choice of TPE (search/study.py).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import optuna
import pandas as pd

from search.data import load_mnist
from search.objective import Objective
from search.pruner import ParetoPruner

__all__ = ["hypervolume", "main"]


def hypervolume(points: list[tuple[float, int]], ref_acc: float, ref_params: int) -> float:
    """Area dominated by (acc %, params) points above ref_acc and below ref_params, in pp*params.

    Hand-written: 2-D is a sort and a sum, and Optuna's hypervolume helper is private API.
    """
    pts = sorted((p, a) for a, p in points if a > ref_acc and p < ref_params)
    area, best = 0.0, ref_acc
    for i, (p, a) in enumerate(pts):
        best = max(best, a)  # accuracy reachable with <= p params
        nxt = pts[i + 1][0] if i + 1 < len(pts) else ref_params
        area += (nxt - p) * (best - ref_acc)
    return area


def _sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":  # the study's own settings
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                              constant_liar=True, n_startup_trials=10)
        if name == "nsga2":  # small population so that several generations fit in the run
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=10)
        return optuna.samplers.RandomSampler(seed=seed)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir")
    ap.add_argument("--budget", type=int, default=10_000)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--train-subset", type=int, default=3000)
    ap.add_argument("--val-size", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--samplers", default="tpe,nsga2,random")
    a = ap.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = load_mnist(a.data_dir, val_size=a.val_size, subset=a.train_subset)
    rows = []
    for name in a.samplers.split(","):
        for seed in range(a.seeds):
            study = optuna.create_study(directions=["maximize", "minimize"],
                                        sampler=_sampler(name, seed))
            obj = Objective(budget=a.budget, epochs=a.epochs, seed=seed, data=data,
                            target=a.trials, pruner=ParetoPruner(warmup_trials=10**9))
            t0 = time.perf_counter()
            study.optimize(obj, n_trials=a.trials)
            front = [tuple(t.values) for t in study.best_trials]
            small = [acc for acc, p in front if p <= 2000]
            rows.append({
                "sampler": name, "seed": seed, "hv": hypervolume(front, 90.0, a.budget) / 1e3,
                "front": len(front), "best": max(acc for acc, _ in front),
                "best<=2k": max(small, default=float("nan")), "s": time.perf_counter() - t0,
            })
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    print(df.to_string(index=False))
    summary = df.groupby("sampler").agg(
        hv_median=("hv", statistics.median), best_median=("best", statistics.median),
        small_median=("best<=2k", statistics.median), front_median=("front", statistics.median))
    print(summary.to_string())


if __name__ == "__main__":
    main()
