"""`nas-mnist bench speed`: how fast nas-mnist trains and searches, beside the notebooks' loop.

Measured in one run, on one device:

1. training images/s of the reference notebooks' loop -- torchvision MNIST with per-sample PIL
   ``RandomRotation(7)``/``ToTensor``/``Normalize``, a DataLoader (batch 128, shuffle, one worker),
   SGD, and the running loss read with ``loss.item()`` every step --
   against :func:`search.training.train`
   doing the same work (same net, batch 128, SGD, +-7 degree rotation) on device-resident data;
   for ``ref10224`` and a 4,959-parameter net decoded from fixed draws (``d4959``);
2. search throughput: one fixed small search run with 1 worker and with N concurrent workers
   (:func:`search.loop.jobs.run_jobs`): trials/hour, candidate-epochs/hour, aggregate speed-up;
3. peak memory per trial: each worker's peak host RSS and, on CUDA, peak allocated GPU memory
   (a worker runs one trial at a time, so its peak is the largest per-trial footprint).

Training rates are medians over repetitions after untimed warm-up steps; each search is timed
once, from starting its workers to their exit (start-up included, as a real search pays it).
"""

from __future__ import annotations

import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import torch

from search.bench.notebook_loop import BATCH, Loop, notebook_reps
from search.bench.plans import PLANS, Plan
from search.config import SearchConfig
from search.loop.jobs import run_jobs
from search.store.study import FINISHED
from search.training.data import DEFAULT_ROOT, MnistData, Split, load_mnist
from search.training.device import resolve_device
from search.training.speed import DEFAULT_SPEED
from search.training.train import train
from space import REFERENCES, NetConfig, build, count_params, decode
from space.recipe import TrainConfig

__all__ = ["GOALS", "BenchResult", "bench_nets", "format_result", "run_bench"]

# A ~5k net of the search space: fixed draws decoded under budget 5000 -> 4,959 params.
_D5K = {
    "stages": 3, "convs0": 2, "pad0": 1, "convs1": 2, "pad1": 1, "trans1": False, "convs2": 2,
    "pad2": 0, "trans2": False, "size": 1.0, "bn": "relu_bn", "bias": False,
    "w0": 0.615, "w1": 0.692, "w2": 0.769, "w3": 0.769, "w4": 0.846, "w5": 1.0,  # 8..13 channels
    "drop": 0.05, "drop2d": True, "head": "gap", "optimizer": "sgd", "lr_sgd": 0.05,
    "wd_sgd": 5e-4, "schedule": "onecycle", "batch_size": 128, "rotate": 7.0, "translate": 0.0,
    "label_smoothing": 0.0,
}
# Goals of the issue: trainer / notebook speed-up on the same net, per device type.
GOALS = {"cpu": 2.5, "cuda": 30.0}
CONCURRENCY_GOAL = (8, 5.0)  # on one GPU: >= 8 concurrent trials at >= 5x aggregate throughput


@dataclass
class BenchResult:
    header: str
    train: pd.DataFrame | None  # one row per (net, threads)
    search: pd.DataFrame | None  # one row per worker count
    goals: list[str]


def bench_nets() -> dict[str, NetConfig]:
    return {"ref10224": REFERENCES["ref10224"].net, "d4959": decode(_D5K, 5000, 1).net}


def same_work(hp: TrainConfig) -> TrainConfig:
    """The notebook loop's recipe, for a fair rate comparison: SGD 0.01, batch 128, +-7 degrees."""
    return replace(hp, epochs=1, batch_size=BATCH, optimizer="sgd", lr=0.01, momentum=0.9,
                   weight_decay=0.0, schedule="none", rotate=7.0, translate=0.0,
                   label_smoothing=0.0)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _chunk(data: MnistData, plan: Plan) -> MnistData:
    n = plan.steps * BATCH  # evaluation covers one batch, so it costs next to nothing
    return MnistData(Split(data.train.x[:n], data.train.y[:n]),
                     Split(data.val.x[:BATCH], data.val.y[:BATCH]), data.device)


def trainer_reps(net: NetConfig, data: MnistData, plan: Plan) -> Loop:
    """Images/s of :func:`search.training.train` on the same work, one ``train`` call of
    ``plan.steps``
    batches per ``next`` (the first is preceded by an untimed warm-up call)."""
    chunk, hp = _chunk(data, plan), same_work(TrainConfig())
    torch.manual_seed(0)
    model = build(net)
    train(model, hp, chunk, seed=0)
    for i in itertools.count(1):
        t0 = time.perf_counter()
        train(model, hp, chunk, seed=i)
        yield len(chunk.train) / (time.perf_counter() - t0)


def trainer_rates(net: NetConfig, data: MnistData, plan: Plan, *,
                  compile: bool = False) -> tuple[list[float], float]:
    """(images/s per repetition, seconds of the untimed first epoch) of one ``train`` call of
    ``1 + reps`` epochs over ``steps`` batches, timed per epoch by the trainer. One call, because
    with ``compile`` every call compiles afresh (the first epoch includes compiling)."""
    chunk = _chunk(data, plan)
    torch.manual_seed(0)
    model = build(net)
    h = train(model, same_work(TrainConfig()), chunk, epochs=1 + plan.reps,
              speed=replace(DEFAULT_SPEED, compile=compile))
    if len(h.epochs) != 1 + plan.reps:
        raise RuntimeError(f"benchmark training stopped early: {h.stopped}")
    return [len(chunk.train) / e.seconds for e in h.epochs[1:]], h.epochs[0].seconds


def interleaved(reps: int, *loops: Loop) -> list[list[float]]:
    """``reps`` values from each loop, taken in turn so that a shared machine's changing load
    hits all of them alike; closes the loops."""
    out: list[list[float]] = [[] for _ in loops]
    try:
        for _ in range(reps):
            for o, loop in zip(out, loops, strict=True):
                o.append(next(loop))
    finally:
        for loop in loops:
            loop.close()
    return out


def train_table(root: Path, data: MnistData, plan: Plan, threads: Sequence[int],
                compile: bool = False) -> pd.DataFrame:
    device, rows = data.device, []
    for t in threads:
        torch.set_num_threads(t)
        for name, net in bench_nets().items():
            _say(f"bench: {name}, {t} thread(s): notebook loop and nas-mnist trainer, in turn ...")
            notebook = notebook_reps(net, root, device, steps=plan.steps, warmup=plan.warmup)
            nb_r, ours_r = interleaved(plan.reps, notebook, trainer_reps(net, data, plan))
            nb, ours = statistics.median(nb_r), statistics.median(ours_r)
            row = {"net": name, "params": count_params(net), "threads": t,
                   "notebook img/s": round(nb), "nas-mnist img/s": round(ours),
                   "speed-up": round(ours / nb, 1)}
            if compile:
                _say(f"bench: {name}, {t} thread(s): nas-mnist trainer, torch.compile ...")
                rates, first = trainer_rates(net, data, plan, compile=True)
                fast = statistics.median(rates)
                row |= {"compiled img/s": round(fast), "compiled speed-up": round(fast / nb, 1),
                        "compile s": round(first - plan.steps * BATCH / fast, 1)}
            rows.append(row)
    return pd.DataFrame(rows)


def search_row(root: Path, device: torch.device, plan: Plan, jobs: int, storage: str,
               workdir: Path) -> dict[str, object]:
    name = f"bench-j{jobs}"
    url = (f"sqlite:///{workdir / name}.db" if storage == "sqlite"
           else f"journal:///{(workdir / name).resolve()}.log")
    a = SearchConfig(n_trials=plan.trials, epochs=plan.epochs, study_name=name, storage=url,
                     study_dir=workdir, data_dir=str(root), device=str(device), seed=0,
                     val_size=plan.val, train_subset=plan.subset, prune=False, quiet=True)
    _say(f"bench: search, {plan.trials} trials with {jobs} concurrent worker(s) ...")
    run = run_jobs(a, jobs, [str(device)] * jobs, echo=False)
    done = run.study.get_trials(deepcopy=False, states=FINISHED)
    epochs = sum(len(t.user_attrs.get("val_acc", [])) for t in done)
    hours = run.seconds / 3600
    cuda = [w.cuda_peak_mb for w in run.workers if w.cuda_peak_mb == w.cuda_peak_mb]  # not NaN
    return {
        "concurrent": jobs, "trials": len(done), "cand-epochs": epochs,
        "wall s": round(run.seconds, 1), "trials/h": round(len(done) / hours),
        "cand-epochs/h": round(epochs / hours),
        "peak host MB/trial": round(max(w.max_rss_mb for w in run.workers)),
        "peak GPU MB/trial": round(max(cuda)) if cuda else "-",
    }


def search_table(root: Path, device: torch.device, plan: Plan, storage: str,
                 jobs: Sequence[int] = ()) -> pd.DataFrame:
    """One row per worker count: 1, then ``jobs`` (default ``plan.jobs``), each a fresh study."""
    with tempfile.TemporaryDirectory(prefix="nas-mnist-bench-") as tmp:
        rows = [search_row(root, device, plan, j, storage, Path(tmp))
                for j in sorted({1, *(jobs or [plan.jobs])})]
    df = pd.DataFrame(rows)
    df.insert(6, "speed-up", (df["cand-epochs/h"] / df["cand-epochs/h"].iloc[0]).round(1))
    return df


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} ({device})"
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    # The vector ISA torch's kernels use: the same "AMD EPYC" VM has come up on AVX2-only and on
    # AVX-512 hosts, whose 1-thread rates differed ~1.8x (docs/benchmarks.md): a figure must say.
    isa = torch.backends.cpu.get_cpu_capability()
    return f"cpu: {model}, {isa} kernels, {torch.get_num_threads()} torch threads by default"


def run_bench(device: str = "auto", *, quick: bool = False, data_dir: str | None = None,
              jobs: Sequence[int] | None = None, threads: Sequence[int] | None = None,
              storage: str = "sqlite", sections: Sequence[str] = ("train", "search"),
              compile: bool = False) -> BenchResult:
    dev = resolve_device(device)
    plan = PLANS[(dev.type, quick)]
    if jobs:
        plan = replace(plan, jobs=max(jobs))
    root = Path(data_dir if data_dir is not None else DEFAULT_ROOT).expanduser()
    data = load_mnist(root, device=dev)  # a one-line error now if missing; unpacks it once
    threads = list(threads or [torch.get_num_threads()])
    header = (f"nas-mnist bench speed on {describe_device(dev)}; torch {torch.__version__}; "
              f"{'quick' if quick else 'full'} plan: {plan}")
    prev = torch.get_num_threads()
    try:
        tt = train_table(root, data, plan, threads, compile) if "train" in sections else None
    finally:
        torch.set_num_threads(prev)
    st = search_table(root, dev, plan, storage, jobs or ()) if "search" in sections else None
    return BenchResult(header, tt, st, _goals(dev, tt, st))


def _goals(dev: torch.device, tt: pd.DataFrame | None, st: pd.DataFrame | None) -> list[str]:
    out = []
    if tt is not None:
        goal = GOALS[dev.type]
        for _, r in tt[tt["net"] == "ref10224"].iterrows():
            ok = "met" if r["speed-up"] >= goal else "NOT met"
            out.append(f"trainer vs notebook, ref10224, {r['threads']} thread(s): "
                       f"{r['speed-up']}x (goal >= {goal}x on {dev.type}): {ok}")
    if st is not None and dev.type == "cuda":
        n, goal = CONCURRENCY_GOAL
        for _, r in st[st["concurrent"] > 1].iterrows():
            ok = "met" if r["concurrent"] >= n and r["speed-up"] >= goal else "NOT met"
            out.append(f"{r['concurrent']} concurrent trials: {r['speed-up']}x aggregate "
                       f"(goal >= {n} at >= {goal}x on one GPU): {ok}")
    return out


def format_result(res: BenchResult) -> str:
    parts = [res.header]
    if res.train is not None:
        parts += ["", "training throughput (median img/s, batch 128, same net and device):",
                  res.train.to_string(index=False)]
    if res.search is not None:
        parts += ["", f"search throughput (budget {SearchConfig.budget}, no pruning; speed-up in "
                  "cand-epochs/h; memory = peak per worker process, one trial at a time):",
                  res.search.to_string(index=False)]
    if res.goals:
        parts += ["", *res.goals]
    return "\n".join(parts)
