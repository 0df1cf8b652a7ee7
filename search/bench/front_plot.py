"""`bench front`'s picture: each run's front hypervolume against minutes (front.png)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from search.bench.plans import FrontPlan

__all__ = ["plot_curves"]


def plot_curves(curves: pd.DataFrame, plan: FrontPlan, targets: dict[str, float], path: Path,
                arms: dict[str, str]) -> None:
    """HV against minutes per run, and a dotted line at each arm of `targets`' final mean."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    colours = {"a": "tab:blue", "b": "tab:orange", "c": "tab:green", "d": "tab:red"}
    fig = Figure(figsize=(7.5, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    labelled: set[str] = set()
    for (arm, _), g in curves.groupby(["arm", "seed"]):
        x, y = list(g["minutes"]), list(g["hv_log"])
        if x[-1] < plan.minutes:  # hold the last value to the end of the budget
            x, y = [*x, plan.minutes], [*y, y[-1]]
        label = None if arm in labelled else f"{arm}: {arms[arm]}"
        labelled.add(arm)
        ax.step(x, y, where="post", color=colours[arm], alpha=0.85, label=label)
    ax.axvline(plan.minutes, color="grey", ls="--", lw=1, label="budget per run")
    for x, target in targets.items():
        ax.axhline(target, color=colours[x], ls=":", lw=1, label=f"{x}'s final mean")
    ax.set_xlabel("minutes since the study's first trial started")
    ax.set_ylabel(f"validation front HV (pp above {plan.ref_acc:g} % x decades of params)")
    seeds = f"{plan.seeds} seed{'s' if plan.seeds != 1 else ''}"
    ax.set_title(f"budget {plan.budget:,} params, {plan.epochs} epochs, {seeds}, "
                 f"{plan.jobs} worker(s)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, format="png")
