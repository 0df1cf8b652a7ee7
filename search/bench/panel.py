"""Trainer throughput across the search space: a fixed panel of nets x batch sizes.

For every net of ``panel.json`` (references, warm-start shapes, narrow full-resolution nets, seeded
random draws) and batch size, :func:`search.training.train` runs timed epochs over a chunk of
training images and :func:`search.training.train.evaluate` over validation images, on one device
with one ``Speed``. Reported per cell: training img/s, training GFLOP/s (6 FLOPs per analytic
forward MAC per image: forward 2, backward 4), its share of the device's measured matmul peak,
validation img/s, and the seconds a full epoch (50k train + 10k validation images) takes at those
rates. With several speeds, :func:`compare` runs each in its own process, taking turns, so that a
shared machine's load hits all alike; process-wide switches (the allocator) stay apart.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
import torch

from search.atomic import atomic_write
from search.bench.plans import SPEED_NAMES, PanelPlan
from search.config import SearchConfig
from search.errors import UserError
from search.store.faults import writing
from search.training.data import MnistData, Split, load_mnist
from search.training.speed import DEFAULT_SPEED, Speed
from search.training.train import evaluate, train
from space import NetConfig, build, count_macs, count_params
from space.recipe import TrainConfig

__all__ = ["GOALS", "PANEL_FILE", "SPEEDS", "compare", "format_panel", "goal_lines", "load_panel",
           "matmul_peak", "profile_epoch", "run_panel", "run_speed", "summarize"]

PANEL_FILE = Path(__file__).with_name("panel.json")
# training and validation images of a default epoch
FULL_EPOCH = (60_000 - SearchConfig.val_size, SearchConfig.val_size)
# the recipe's knobs that cost time (augmentation, label smoothing); the rest is arithmetic
RECIPE = TrainConfig(epochs=1, lr=0.05, rotate=7.0, translate=0.05, label_smoothing=0.05)
SPEEDS: dict[str, Speed] = {
    "default": DEFAULT_SPEED,
    "plain": Speed.plain(),
    "pages": replace(Speed.plain(), keep_pages=True),  # one switch at a time, from plain
    "foreach": replace(Speed.plain(), foreach=True),
    "compile": replace(DEFAULT_SPEED, compile=True),
    "graphs": replace(DEFAULT_SPEED, compile=True, compile_mode="reduce-overhead"),  # CUDA graphs
    "nchw": replace(DEFAULT_SPEED, channels_last=False),
    "eval1024": replace(DEFAULT_SPEED, eval_batch=1024),
}
assert tuple(SPEEDS) == SPEED_NAMES  # the CLI offers the names without importing torch


def load_panel(names: Sequence[str] | None = None) -> dict[str, NetConfig]:
    stored = json.loads(PANEL_FILE.read_text())["nets"]
    nets = {k: NetConfig.from_dict(v) for k, v in stored.items()}
    if names is None:
        return nets
    if unknown := [n for n in names if n not in nets]:
        raise UserError(f"not in the panel: {', '.join(unknown)} (it has {', '.join(nets)})")
    return {n: nets[n] for n in names}


def matmul_peak(device: torch.device, n: int = 2048) -> float:
    """GFLOP/s of an fp32 n x n matmul on ``device`` at torch's thread count (best of 3): the rate
    its fastest kernels reach, the yardstick for the conv nets' share."""
    a, b = (torch.randn(n, n, device=device) for _ in range(2))
    best = float("inf")
    for _ in range(4):  # the first is a warm-up
        t0 = time.perf_counter()
        (a @ b).sum().item()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def _cell(net: NetConfig, bs: int, data: MnistData, plan: PanelPlan, speed: Speed) -> dict:
    torch.manual_seed(0)
    model = build(net)
    chunk = MnistData(Split(data.train.x[: plan.images], data.train.y[: plan.images]),
                      Split(data.val.x[:bs], data.val.y[:bs]), data.device)  # tiny in-train eval
    h = train(model, replace(RECIPE, batch_size=bs), chunk, epochs=1 + plan.reps, speed=speed)
    if len(h.epochs) != 1 + plan.reps:
        raise RuntimeError(f"panel training stopped early: {h.stopped}")
    train_s = statistics.median(e.seconds for e in h.epochs[1:])
    val = Split(data.val.x[: plan.val], data.val.y[: plan.val])
    evaluate(model, Split(val.x[:bs], val.y[:bs]), speed=speed)  # warm-up
    t0 = time.perf_counter()
    evaluate(model, val, speed=speed)
    if data.device.type == "cuda":
        torch.cuda.synchronize(data.device)
    val_s = time.perf_counter() - t0
    img_s, val_img_s = plan.images / train_s, plan.val / val_s
    return {"train img/s": img_s, "val img/s": val_img_s,
            "first epoch s": h.epochs[0].seconds - train_s,  # compile and warm-up beyond steady
            "epoch s": FULL_EPOCH[0] / img_s + FULL_EPOCH[1] / val_img_s}


def run_panel(data: MnistData, plan: PanelPlan, speed: Speed, *, label: str = "default",
              say=lambda msg: None) -> pd.DataFrame:
    """One row per (net, batch size); rates of ``speed`` on ``data``'s device."""
    peak = matmul_peak(data.device)
    rows = []
    for name, net in load_panel(plan.nets).items():
        macs = count_macs(net)
        for bs in plan.batches:
            say(f"bench speed [{label}]: {name}, batch {bs} ...")
            c = _cell(net, bs, data, plan, speed)
            gflops = 6 * macs * c["train img/s"] / 1e9
            rows.append({"speed": label, "net": name, "params": count_params(net),
                         "MACs/img": macs, "batch": bs, **c, "GFLOP/s": gflops,
                         "% of peak": 100 * gflops / peak, "peak GFLOP/s": peak})
    return pd.DataFrame(rows)


def compare(speeds: Sequence[str], *, rounds: int, plan: PanelPlan, data_dir: str | None,
            device: str, say=lambda msg: None) -> pd.DataFrame:
    """Every speed of ``speeds`` (names of SPEEDS) over the panel, each run in its own process,
    in turn for ``rounds`` rounds (a, b, a, b, ...); all rows, with a ``round`` column."""
    frames = []
    with tempfile.TemporaryDirectory(prefix="nas-mnist-panel-") as tmp:
        for r in range(rounds):
            for s in speeds:
                say(f"bench speed: round {r + 1} of {rounds}, speed {s} ...")
                out = Path(tmp) / f"{s}-{r}.json"
                cmd = [sys.executable, "-m", "search.bench.panel", s, json.dumps(asdict(plan)),
                       device, data_dir or "", str(out)]
                if (rc := subprocess.run(cmd).returncode) != 0:
                    raise UserError(f"bench speed: the run of speed {s} exited with {rc} "
                                    "(its output is above)")
                frames.append(pd.read_json(out).assign(round=r))
    return pd.concat(frames, ignore_index=True)


def summarize(rows: pd.DataFrame, base: str | None = None) -> pd.DataFrame:
    """Median (and min-max spread) per speed, net and batch; with ``base``, each speed's
    training img/s over ``base``'s (``x_base``)."""
    g = rows.groupby(["speed", "net", "batch"], sort=False)
    out = g.agg(params=("params", "first"), macs=("MACs/img", "first"),
                img_s=("train img/s", "median"), lo=("train img/s", "min"),
                hi=("train img/s", "max"), gflops=("GFLOP/s", "median"),
                peak_pct=("% of peak", "median"), val_img_s=("val img/s", "median"),
                epoch_s=("epoch s", "median"), first_s=("first epoch s", "median"),
                peak=("peak GFLOP/s", "median")).reset_index()
    if base is not None:
        ref = out[out["speed"] == base].set_index(["net", "batch"])["img_s"]
        out["x_base"] = [r.img_s / ref[(r.net, r.batch)] for r in out.itertuples()]
    return out


def profile_epoch(name: str, bs: int, data: MnistData, plan: PanelPlan, speed: Speed,
                  rows: int = 20) -> str:
    """torch.profiler's table (self time, top ``rows`` ops) of one timed panel cell: where a
    training epoch of ``name`` at batch ``bs`` and its validation go."""
    from torch.profiler import ProfilerActivity, profile

    net = load_panel([name])[name]
    _cell(net, bs, data, replace(plan, reps=1), speed)  # warm-up: kernels chosen, pages mapped
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if data.device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        _cell(net, bs, data, replace(plan, reps=1), speed)
    key = "self_cuda_time_total" if data.device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=rows)


def format_panel(summary: pd.DataFrame, base: str | None = None) -> str:
    """The summary as a table: one row per speed, net and batch size."""
    t = pd.DataFrame({
        "speed": summary["speed"], "net": summary["net"], "params": summary["params"],
        "kMAC/img": (summary["macs"] / 1000).round().astype(int), "batch": summary["batch"],
        "img/s": summary["img_s"].round().astype(int),
        "min-max": [f"{lo:.0f}-{hi:.0f}" for lo, hi in zip(summary["lo"], summary["hi"],
                                                            strict=True)],
        "GFLOP/s": summary["gflops"].round(1), "% peak": summary["peak_pct"].round(1),
        "val img/s": summary["val_img_s"].round().astype(int),
        "epoch s": summary["epoch_s"].round(1), "first s": summary["first_s"].round(1)})
    if base is not None and "x_base" in summary:
        # strings: to_string would print a column of exact ones as "1.0"
        t[f"x {base}"] = summary["x_base"].map("{:.2f}".format)
    return t.to_string(index=False)


# Goals of the throughput issue, checked when a run compares a speed with ``plain``.
NARROW = "narrow28@4.0k"  # the narrow full-resolution net of the goal
GOALS = {"narrow": 3.0, "median": 1.5, "slowest": 1.0, "peak_pct": 25.0}


def goal_lines(summary: pd.DataFrame, base: str) -> list[str]:
    """One line per goal for every speed compared with ``base``."""
    out = []
    for speed, g in summary[summary["speed"] != base].groupby("speed", sort=False):
        def met(ok: bool) -> str:
            return "met" if ok else "NOT met"

        for r in g[g["net"] == NARROW].itertuples():
            out.append(f"{speed}: {NARROW} at batch {r.batch}: {r.x_base:.2f}x {base} "
                       f"(goal >= {GOALS['narrow']:g}x): {met(r.x_base >= GOALS['narrow'])}")
        x = g["x_base"]
        out.append(f"{speed}: panel median {x.median():.2f}x {base} (goal >= "
                   f"{GOALS['median']:g}x): {met(x.median() >= GOALS['median'])}; slowest "
                   f"{x.min():.2f}x ({g.loc[x.idxmin(), 'net']}, batch "
                   f"{g.loc[x.idxmin(), 'batch']}; goal >= {GOALS['slowest']:g}x): "
                   f"{met(x.min() >= GOALS['slowest'])}")
        n = int((g["peak_pct"] >= GOALS["peak_pct"]).sum())
        out.append(f"{speed}: {n} of {len(g)} cells at >= {GOALS['peak_pct']:g} % of the matmul "
                   f"peak ({g['peak'].median():.0f} GFLOP/s)")
    return out


def run_speed(plan: PanelPlan, speeds: Sequence[str], *, rounds: int, device: str,
              data_dir: str | None, profile: str | None = None, batch: int = 128,
              out: Path | None = None) -> str:
    """`nas-mnist bench speed`: the panel at each speed (or one profile); the text to print."""
    from search.bench.speed import describe_device
    from search.training.device import resolve_device

    dev = resolve_device(device)
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    # one-line errors before anything is measured: missing data (downloaded as by `search`),
    # an unknown net, an --out that cannot be written
    data = load_mnist(data_dir, device=dev)
    if profile is not None:
        return profile_epoch(profile, batch, data, plan, SPEEDS[speeds[0]])
    load_panel(plan.nets)
    if out is not None:
        with writing(out):
            out.mkdir(parents=True, exist_ok=True)
    if len(speeds) == 1 and rounds == 1:
        rows = run_panel(data, plan, SPEEDS[speeds[0]], label=speeds[0], say=say).assign(round=0)
    else:
        rows = compare(speeds, rounds=rounds, plan=plan, data_dir=data_dir, device=str(dev),
                       say=say)
    base = speeds[0] if len(speeds) > 1 else None
    summary = summarize(rows, base)
    head = (f"nas-mnist bench speed on {describe_device(dev)}; torch {torch.__version__}; "
            f"{torch.get_num_threads()} thread(s); {plan}; speeds {', '.join(speeds)}, "
            f"{rounds} round(s), each in its own process when more than one run")
    text = "\n".join([head, "", format_panel(summary, base),
                      *([""] + goal_lines(summary, base) if base == "plain" else [])])
    if out is not None:
        with writing(out):
            atomic_write(out / "panel.csv", lambda tmp: rows.to_csv(tmp, index=False))
            atomic_write(out / "panel.txt", lambda tmp: tmp.write_text(text + "\n"))
    return text


def _worker(argv: list[str]) -> None:
    """One speed over the panel in this process: ``speed plan.json device data_dir out.json``."""
    name, plan_json, device, data_dir, out = argv
    plan = PanelPlan(**{k: tuple(v) if isinstance(v, list) else v
                        for k, v in json.loads(plan_json).items()})
    data = load_mnist(data_dir or None, device=device, download=False)
    df = run_panel(data, plan, SPEEDS[name], label=name,
                   say=lambda m: print(m, file=sys.stderr, flush=True))
    df.to_json(out)


if __name__ == "__main__":
    _worker(sys.argv[1:])
