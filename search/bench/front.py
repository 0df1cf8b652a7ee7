"""`nas-mnist bench front`: anytime front quality of the default search against other searches.

The arms (``arms``, default a and b) run on this machine for the same wall-clock budget, the same
epochs and the same data:

a. the default search -- :class:`~search.config.SearchConfig` as it is at run time (sampler,
   pruner, warm starts, references), nothing overridden but the bench's own settings below;
b. plain random search without pruning, warm starts or references (what a Ray Tune / NNI user gets
   by default); or, with ``against=REV``, the default search of git revision REV, run from a
   temporary worktree with that revision's own code (search.bench.against), to measure a change
   against what it replaced;
c. Syne Tune's MOASHA over our space, trainer and data, with random configurations
   (search.bench.moasha; the ``peers`` extra);
d. the same MOASHA, given our warm starts as its first configurations.

Runs are interleaved (a seed 0, b seed 0, a seed 1, ...), so that a shared machine's changing load
hits every arm alike, each in its own SQLite study under ``--out``. Afterwards each study's
validation front is scored after every completed trial by its log-scale hypervolume
(search.results.hypervolume: accuracy above ``ref_acc`` times decades of parameters below the
budget), against minutes since the study's first trial started. The final figures count only
trials completed within the budget: the search's timeout starts no new trial after it but lets a
running one finish, so a run may overrun by up to one trial; the curves keep those trials. How
much it runs: search.bench.plans (FULL, QUICK).
"""

from __future__ import annotations

import contextlib
import functools
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from search.bench.against import resolve_rev, search_at, worktree
from search.bench.front_plot import plot_curves
from search.bench.moasha_space import require_syne_tune
from search.bench.plans import ARMS, DEFAULT_ARMS, FrontPlan
from search.config import SearchConfig
from search.errors import UserError
from search.loop.jobs import run_jobs
from search.loop.run import run_search
from search.results.hypervolume import hypervolume
from search.store.queued import is_start
from search.training.data import MnistData, load_mnist
from search.training.device import resolve_device

__all__ = ["ARMS", "DEFAULT_ARMS", "PEERS", "FrontResult", "arm_args", "check_arms",
           "format_front", "hv_curve", "run_front", "run_stats",
           "summarize", "time_to_reach", "write_result"]

PEERS = {"c": False, "d": True}  # the MOASHA arms (search.bench.moasha), by: warm starts first
N_TRIALS = 10**6  # the timeout ends every run, never the trial count
SIZES = (2000, 5000)  # besides the budget: "best accuracy with at most this many params"
LEARNED = 95.0  # % val: a completed trial above this "learned" (issue 12 asks for >= 90 % of them)


@dataclass
class FrontResult:
    runs: pd.DataFrame  # one row per (arm, seed)
    summary: pd.DataFrame  # one row per arm
    curves: pd.DataFrame  # arm, seed, minutes, trial, params, acc, hv_log
    files: list[Path]
    plan: FrontPlan


def hv_curve(trials: Iterable[FrozenTrial], budget: int, ref_acc: float) -> pd.DataFrame:
    """The validation front's log-scale hypervolume after each completed trial, against minutes
    since the first trial of the study started (a first row at 0 minutes with nothing done)."""
    trials = list(trials)
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    rows: list[dict[str, float]] = [{"minutes": 0.0, "trial": -1, "params": math.nan,
                                     "acc": math.nan, "hv_log": 0.0}]
    done = sorted((t for t in trials if t.state == TrialState.COMPLETE and t.values
                   and t.datetime_complete is not None), key=lambda t: t.datetime_complete)
    points: list[tuple[float, int]] = []
    for t in done:
        acc, params = float(t.values[0]), int(t.values[1])
        points.append((acc, params))
        rows.append({"minutes": (t.datetime_complete - min(starts)).total_seconds() / 60,
                     "trial": t.number, "params": params, "acc": acc,
                     "hv_log": hypervolume(points, ref_acc, budget, log=True)})
    df = pd.DataFrame(rows)
    # a growing set's hypervolume never falls; recomputing it from scratch can, by float round-off
    df["hv_log"] = df["hv_log"].cummax()
    return df


def time_to_reach(curve: pd.DataFrame, target: float) -> float:
    """Minutes until ``curve`` (of :func:`hv_curve`) first reaches ``target``; NaN if never."""
    hit = curve.loc[curve["hv_log"] >= target, "minutes"]
    return float(hit.min()) if len(hit) else math.nan


def run_stats(trials: Sequence[FrozenTrial], curve: pd.DataFrame, plan: FrontPlan) -> dict:
    """One run's row: final hypervolume and trial counts within the budget, the share of completed
    trials above LEARNED % (in %), best accuracies."""
    t0 = min(t.datetime_start for t in trials if t.datetime_start is not None)

    def within(t: FrozenTrial) -> bool:
        end = t.datetime_complete
        return end is not None and (end - t0).total_seconds() <= plan.minutes * 60

    fin = [t for t in trials if within(t)]
    done = [t for t in fin if t.state == TrialState.COMPLETE and t.values]
    row = {"hv_log": float(curve.loc[curve["minutes"] <= plan.minutes, "hv_log"].max()),
           "complete": len(done), "pruned": sum(t.state == TrialState.PRUNED for t in fin),
           f">{LEARNED:g}%": (100 * sum(t.values[0] > LEARNED for t in done) / len(done)
                              if done else math.nan)}
    starts = [t for t in done if is_start(t)]
    searched = [t for t in done if not is_start(t)]
    caps = {f"{c // 1000}k" if c % 1000 == 0 else str(c): c for c in (*SIZES, plan.budget)}
    row |= {f"best<={name}": _best(done, cap) for name, cap in caps.items()}
    # search lift: what the searched trials add over the warm starts and references (pp); NaN
    # where a run has no starts (arms b, c) or no searched trial under the cap
    row |= {f"lift<={name}": _best(searched, cap) - _best(starts, cap) if starts else math.nan
            for name, cap in caps.items()}
    return row


def _best(trials: Sequence[FrozenTrial], cap: int) -> float:
    accs = [t.values[0] for t in trials if t.values[1] <= cap]
    return max(accs) if accs else math.nan


def summarize(runs: pd.DataFrame, curves: pd.DataFrame, arms: dict[str, str] | None = None,
              minutes: float = math.inf) -> pd.DataFrame:
    """Per arm: final HV mean and sd over seeds; for every arm X of the bench, minutes to reach X's
    final mean HV within the budget of ``minutes`` ("min to X's HV": mean over the seeds that
    reached it; "reached X": how many did); mean trial counts and best accuracies."""
    means = runs.groupby("arm")["hv_log"].mean()
    # like the final figures, a crossing in a run's overrun past the budget does not count
    reach = {(arm, seed, x): time_to_reach(g[g["minutes"] <= minutes], target)
             for (arm, seed), g in curves.groupby(["arm", "seed"]) for x, target in means.items()}
    out = []
    for arm, g in runs.groupby("arm"):
        row = {"arm": arm, "what": (arms or ARMS)[arm], "seeds": len(g),
               "hv_log mean": g["hv_log"].mean(), "hv_log sd": g["hv_log"].std()}
        for x in means.index:
            times = pd.Series([reach[(arm, s, x)] for s in g["seed"]], dtype=float)
            row[f"min to {x}'s HV"] = times.mean()
            row[f"reached {x}"] = f"{times.notna().sum()}/{len(times)}"
        best = [c for c in g.columns if c.startswith(("best<=", "lift<="))]
        out.append({**row, "complete": g["complete"].mean(), "pruned": g["pruned"].mean(),
                    **{c: g[c].mean() for c in g.columns if c.startswith(">")},
                    **{c: g[c].mean() for c in best}})
    return pd.DataFrame(out)


def arm_args(arm: str, seed: int, plan: FrontPlan, out: Path, *, data_dir: str | None = None,
             device: str = "auto") -> SearchConfig:
    """The search of one arm and seed; arm a keeps every search default the bench does not set.
    A MOASHA arm (c, d) uses of it the budget, epochs, seed, time, data, the pruner's rungs and,
    for d, the warm-start plan."""
    a = SearchConfig(budget=plan.budget, n_trials=N_TRIALS, timeout=plan.minutes * 60,
                   epochs=plan.epochs, study_name=f"{arm}-s{seed}", study_dir=out,
                   data_dir=data_dir, device=device, seed=seed, val_size=plan.val_size,
                   train_subset=plan.train_subset, quiet=True)
    if arm == "b":
        return replace(a, sampler="random", prune=False, warm_start=False, references=False,
                       neighbours=0.0)
    if arm in PEERS:
        return replace(a, sampler="random", warm_start=PEERS[arm], references=False,
                       neighbours=0.0)
    if arm != "a":
        raise ValueError(f"unknown arm {arm!r}; known: {', '.join(ARMS)}")
    return a


def check_arms(arms: Sequence[str], against: str | None = None) -> tuple[str, ...]:
    """The bench's arms in the order given; one-line refusals for what cannot run."""
    arms = tuple(arms)
    if bad := [x for x in arms if x not in ARMS]:
        raise UserError(f"unknown arm {', '.join(bad)}: choose from "
                        + ", ".join(f"{k} ({v})" for k, v in ARMS.items()))
    if len(set(arms)) != len(arms) or len(arms) < 2:
        raise UserError(f"--arms needs two or more different arms, got {','.join(arms)}")
    if against and "b" not in arms:
        raise UserError("--against REV replaces arm b: put b in --arms")
    if any(x in PEERS for x in arms):
        require_syne_tune()
    return arms


@functools.cache
def _data(data_dir: str | None, val_size: int, subset: int | None, device: str) -> MnistData:
    """MNIST once per process: every in-process run uses the same split."""
    return load_mnist(data_dir, device=device, val_size=val_size, subset=subset)


def _search(a: SearchConfig, jobs: int) -> list[FrozenTrial]:
    # the searches' own lines (one per trial, the front) go to stderr: stdout keeps the tables
    with contextlib.redirect_stdout(sys.stderr):
        if jobs == 1:
            dev = str(resolve_device(a.device))
            study = run_search(a, _data(a.data_dir, a.val_size, a.train_subset, dev))
        else:
            study = run_jobs(a, jobs, echo=False).study
    return study.get_trials(deepcopy=False)


def _moasha(a: SearchConfig, jobs: int, warm: bool) -> list[FrozenTrial]:
    from search.bench.moasha import run_moasha  # syne_tune: only for these arms

    with contextlib.redirect_stdout(sys.stderr):  # Syne Tune's own lines: stdout keeps the tables
        return run_moasha(a, jobs, warm=warm)


def run_front(plan: FrontPlan, out: Path, *, arms: Sequence[str] = DEFAULT_ARMS,
              data_dir: str | None = None, device: str = "auto",
              against: str | None = None) -> FrontResult:
    """Run every arm (keys of ARMS) for every seed, interleaved; write curves and runs (CSV) and
    the PNG. ``against``: a git revision whose default search is arm b instead of random search."""
    out = Path(out)
    order = check_arms(arms, against)  # refused before any write, as is an unknown revision
    commit = resolve_rev(against) if against else None
    if out.exists() and any(out.glob("*.db")):
        raise UserError(f"{out} already holds studies; pass a new --out folder")
    arms = {x: ARMS[x] for x in order}
    if commit is not None:
        rev = against if commit.startswith(against) else f"{against} ({commit[:7]})"
        arms["b"] = f"default search of {rev}"
    out.mkdir(parents=True, exist_ok=True)
    curves, runs = [], []
    with (worktree(commit) if commit else contextlib.nullcontext()) as tree:
        for seed in range(plan.first_seed, plan.first_seed + plan.seeds):
            for arm in arms:
                a = arm_args(arm, seed, plan, out, data_dir=data_dir, device=device)
                print(f"bench front: arm {arm} ({arms[arm]}), seed {seed}: "
                      f"{_duration(plan.minutes)} ...", file=sys.stderr, flush=True)
                if arm in PEERS:
                    trials = _moasha(a, plan.jobs, PEERS[arm])
                elif arm == "b" and tree:
                    trials = search_at(tree, a, plan.jobs)
                else:
                    trials = _search(a, plan.jobs)
                curve = hv_curve(trials, plan.budget, plan.ref_acc)
                runs.append({"arm": arm, "seed": seed, **run_stats(trials, curve, plan)})
                curves.append(curve.assign(arm=arm, seed=seed))
    return write_result(pd.DataFrame(runs), curves, plan, out, arms)


def write_result(runs: pd.DataFrame, curves: list[pd.DataFrame], plan: FrontPlan, out: Path,
                 arms: dict[str, str]) -> FrontResult:
    """Summarize the runs' rows and HV curves; write front_curves.csv, front_runs.csv and
    front.png to `out` (which exists)."""
    cdf = pd.concat(curves, ignore_index=True)
    cdf = cdf[["arm", "seed", "minutes", "trial", "params", "acc", "hv_log"]]
    summary = summarize(runs, cdf, arms, plan.minutes)
    files = [out / "front_curves.csv", out / "front_runs.csv", out / "front.png"]
    cdf.to_csv(files[0], index=False)
    runs.to_csv(files[1], index=False)
    targets = dict(zip(summary["arm"], summary["hv_log mean"], strict=True))
    plot_curves(cdf, plan, {x: v for x, v in targets.items() if x != "a"}, files[2], arms)
    return FrontResult(runs, summary, cdf, files, plan)


def _duration(minutes: float) -> str:
    return f"{minutes:g} min" if minutes >= 1 else f"{minutes * 60:.0f} s"


def format_front(res: FrontResult) -> str:
    p = res.plan
    data = f"{p.train_subset or 50_000:,} train / {p.val_size:,} val"
    pd_opts = {"index": False, "float_format": lambda v: f"{v:.2f}"}
    return "\n".join([
        f"nas-mnist bench front: budget {p.budget:,} params, {p.epochs} epochs, {data}, "
        f"{_duration(p.minutes)} per arm and seed, {p.jobs} worker(s), "
        f"HV reference {p.ref_acc:g} %",
        "", "per run (within the budget; best = validation accuracy %; lift = best of the "
        "searched trials minus best of the warm starts and references, pp):",
        res.runs.to_string(**pd_opts),
        "", "per arm (mean over seeds; 'min to X's HV': minutes until the arm's front first "
        "reached arm X's final mean HV, over the seeds that did; 'reached X': how many did):",
        res.summary.to_string(**pd_opts),
        "", "files: " + ", ".join(str(f) for f in res.files)])
