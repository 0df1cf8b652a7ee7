"""Retraining a net from a fresh seed on all 60k training images, one run after another or several
at once in worker processes.

Each retraining (a net, its recipe, a seed) is independent of the others, so ``jobs`` processes run
``jobs`` at once: on a GPU several small trainings share the device (a tiny net's step is
launch-bound: docs/benchmarks.md, "On a GPU"), on a CPU one per core with one thread each.
concurrent.futures' process pool, with spawn (CUDA cannot be forked); the data is read once, by
the caller, and each worker gets a copy when it starts.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from search.training.data import MnistData, Split, load_mnist
from search.training.device import resolve_device
from search.training.train import History, evaluate, train
from space import Candidate, build

__all__ = ["Done", "Retrained", "Task", "full_train", "retrain", "run_retrains"]


@dataclass
class Retrained:
    """One training run: the model, its history and final-epoch accuracies in %."""

    model: nn.Module
    history: History
    val_acc: float | None  # None when the data had no validation split (full training set)
    test_acc: float | None  # None when no test split was given


def full_train(
    root: str | Path | None, *, device: str | torch.device = "cpu", subset: int | None = None,
    download: bool = True,
) -> MnistData:
    """All 60,000 training images as the train split and an empty validation split.

    ``load_mnist`` always holds out at least one image, so it is asked for one and that image is put
    back. ``subset`` keeps the first N images of its fixed permutation (quick runs and tests).
    """
    d = load_mnist(root, device=device, val_size=1, download=download)
    x, y = torch.cat([d.train.x, d.val.x]), torch.cat([d.train.y, d.val.y])
    if subset is not None:
        x, y = x[:subset], y[:subset]
    return MnistData(train=Split(x, y), val=Split(x[:0], y[:0]), device=d.device)


def retrain(
    cand: Candidate, data: MnistData, *, seed: int, test: Split | None = None,
    epochs: int | None = None, progress: bool = False,
) -> Retrained:
    """Build ``cand.net`` and train it with ``cand.train`` (``epochs`` overrides its epoch count).

    The seed fixes the initial weights as well as shuffling, augmentation and dropout, so on the
    CPU a seed reproduces the run exactly (at the same thread count). Accuracies are the final
    epoch's.
    """
    torch.manual_seed(seed)
    model = build(cand.net)
    hist = train(model, cand.train, data, seed=seed, progress=progress, epochs=epochs)
    val = 100 * hist.final_val_acc if len(data.val) and hist.final_val_acc is not None else None
    test_acc = 100 * evaluate(model, test)[0] if test is not None else None
    return Retrained(model, hist, val, test_acc)


@dataclass(frozen=True)
class Task:
    key: int  # the trial's number
    config: dict[str, Any]  # Candidate.to_dict()
    seed: int


@dataclass(frozen=True)
class Done:
    task: Task
    test_acc: float  # %, final epoch
    stopped: bool  # the run diverged and stopped early


def _score(task: Task, data: MnistData, test: Split, epochs: int | None) -> Done:
    r = retrain(Candidate.from_dict(task.config), data, seed=task.seed, test=test, epochs=epochs)
    assert r.test_acc is not None
    return Done(task, r.test_acc, bool(r.history.stopped))


_WORKER: dict[str, Any] = {}  # a worker process's data, set once by _init


def _to(s: Split, device: torch.device) -> Split:
    return Split(s.x.to(device), s.y.to(device))


def _init(data: MnistData, test: Split, device: str, threads: int) -> None:
    torch.set_num_threads(threads)
    dev = resolve_device(device)
    _WORKER.update(full=MnistData(_to(data.train, dev), _to(data.val, dev), dev),
                   test=_to(test, dev))


def _in_worker(task: Task, epochs: int | None) -> Done:
    return _score(task, _WORKER["full"], _WORKER["test"], epochs)


def run_retrains(
    tasks: Sequence[Task], *, jobs: int, epochs: int | None, data: MnistData, test: Split,
) -> Iterator[Done]:
    """Each task's result as it finishes. ``jobs`` == 1: here, in order. Otherwise up to ``jobs``
    worker processes, each given a copy of ``data`` and ``test`` (read once, here) on ``data``'s
    device, on the CPU sharing out this process's threads (one each, at one worker per core).
    Stopping early (an exception, the caller closing the iterator) ends the workers and drops
    the rest."""
    if jobs <= 1 or len(tasks) <= 1:
        for t in tasks:
            yield _score(t, data, test, epochs)
        return
    n = min(jobs, len(tasks))
    dev = data.device
    threads = max(1, torch.get_num_threads() // n) if dev.type == "cpu" else 1
    cpu = MnistData(_to(data.train, torch.device("cpu")), _to(data.val, torch.device("cpu")),
                    torch.device("cpu"))  # CUDA tensors do not cross into spawned processes
    init = (cpu, _to(test, torch.device("cpu")), str(dev), threads)
    ex = cf.ProcessPoolExecutor(max_workers=n, initializer=_init, initargs=init,
                                mp_context=multiprocessing.get_context("spawn"))
    try:
        for f in cf.as_completed([ex.submit(_in_worker, t, epochs) for t in tasks]):
            yield f.result()
    except BaseException:
        for p in list((getattr(ex, "_processes", None) or {}).values()):
            p.terminate()  # the pool has no public way to stop running tasks
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown(wait=True)
