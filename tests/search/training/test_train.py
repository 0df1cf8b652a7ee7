"""search.training.train: the trainer on a tiny CNN and a 1000-image subset of MNIST."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import astuple, replace
from pathlib import Path

import pytest
import torch
from torch import nn

from search.training import data
from search.training.data import MnistData, load_mnist
from search.training.train import (
    EpochStats,
    History,
    evaluate,
    predict_logits,
    set_cpu_threads,
    train,
)
from space.recipe import TrainConfig

HP = TrainConfig(epochs=2, batch_size=128)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    # Tiny models gain nothing from intra-op threads, and on a busy machine OpenMP hand-offs
    # between threads made them ~10x slower (measured on 2 shared cores).
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


@pytest.fixture(scope="module")
def small(mnist_root: Path) -> MnistData:
    return load_mnist(mnist_root, val_size=500, subset=1000, download=False)


def tiny(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10)
    )


def _numbers(h: History) -> list[tuple]:
    """Everything in a history except wall-clock time."""
    return [astuple(replace(e, seconds=0.0)) for e in h.epochs]


def test_two_epochs(small: MnistData) -> None:
    before = data.TEST_LOADS
    h = train(tiny(), HP, small)
    assert [e.epoch for e in h.epochs] == [1, 2] and h.stopped is None
    for e in h.epochs:
        assert 0.0 <= e.val_acc <= 1.0 and e.seconds > 0 and e.lr > 0
        assert math.isfinite(e.train_loss) and math.isfinite(e.val_loss)
    assert h.val_acc == [e.val_acc for e in h.epochs] and h.final_val_acc == h.val_acc[-1]
    assert h.epochs[1].train_loss < h.epochs[0].train_loss or h.final_val_acc > 0.1
    assert data.TEST_LOADS == before  # training never reads the test set


def test_same_seed_same_history(small: MnistData) -> None:
    hp = replace(HP, rotate=10.0, translate=0.1, label_smoothing=0.1)  # cover augmentation too
    a, b = tiny(), tiny()
    ha, hb = train(a, hp, small, seed=7), train(b, hp, small, seed=7)
    assert _numbers(ha) == _numbers(hb)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    hc = train(tiny(), hp, small, seed=8)
    assert _numbers(hc) != _numbers(ha)


def test_on_epoch_can_stop(small: MnistData) -> None:
    seen: list[EpochStats] = []

    def stop(stats: EpochStats) -> str | None:
        seen.append(stats)
        return "stop"

    h = train(tiny(), HP, small, on_epoch=stop)
    assert len(h.epochs) == 1 and h.stopped == "stop" and seen == h.epochs


def test_on_epoch_empty_reason_continues(small: MnistData) -> None:
    h = train(tiny(), HP, small, on_epoch=lambda s: "")
    assert len(h.epochs) == 2 and h.stopped is None


def test_epochs_override(small: MnistData) -> None:
    h = train(tiny(), replace(HP, epochs=15), small, epochs=1, progress=True)
    assert len(h.epochs) == 1


def test_divergence_stops(small: MnistData) -> None:
    calls: list[EpochStats] = []
    h = train(tiny(), replace(HP, lr=1e6, schedule="none"), small, on_epoch=calls.append)
    assert h.stopped is not None and "non-finite" in h.stopped
    assert len(h.epochs) == 1 and not calls  # a NaN epoch is never reported onwards


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
@pytest.mark.parametrize("schedule", ["onecycle", "step", "none"])
def test_schedules_and_optimizers(small: MnistData, optimizer: str, schedule: str) -> None:
    lr = 0.05 if optimizer == "sgd" else 3e-3
    hp = replace(HP, optimizer=optimizer, schedule=schedule, lr=lr)
    h = train(tiny(), hp, small, epochs=1)
    (e,) = h.epochs
    assert math.isfinite(e.train_loss) and 0.0 <= e.val_acc <= 1.0
    if schedule == "none":
        assert e.lr == lr
    else:  # both schedules end the run far below the peak rate
        assert e.lr < lr / 10


def test_evaluate_and_predict_keep_mode(small: MnistData) -> None:
    model = tiny()
    model.train()
    acc, loss = evaluate(model, small.val, batch_size=128)
    assert 0.0 <= acc <= 1.0 and loss > 0 and model.training
    assert evaluate(model, small.val) == pytest.approx((acc, loss))  # batch size is irrelevant
    logits = predict_logits(model, small.val.x[:5])
    assert logits.shape == (5, 10) and logits.dtype == torch.float32 and model.training


def test_set_cpu_threads_respects_env(monkeypatch: pytest.MonkeyPatch) -> None:
    prev = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        torch.set_num_threads(1)
        assert set_cpu_threads() == 1  # the environment decided: left alone
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert set_cpu_threads() == (os.cpu_count() or 1)
    finally:
        torch.set_num_threads(prev)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_train_on_cuda(mnist_root: Path) -> None:
    gpu = load_mnist(mnist_root, val_size=500, subset=1000, device="cuda", download=False)
    assert gpu.train.x.is_cuda
    h = train(tiny(), HP, gpu, epochs=1)
    assert len(h.epochs) == 1 and h.stopped is None
    assert math.isfinite(h.epochs[0].train_loss) and 0.0 <= h.final_val_acc <= 1.0


def test_weight_averaging_keeps_and_validates_the_average(small: MnistData) -> None:
    hp = replace(HP, epochs=1, ema_epochs=0.5)
    plain = tiny()
    h_plain = train(plain, replace(hp, ema_epochs=0.0), small)
    averaged = tiny()
    h = train(averaged, hp, small)
    # the same steps (same seed, same draws); the kept weights are the average, not the last step
    assert h.epochs[0].train_loss == h_plain.epochs[0].train_loss
    assert any(not torch.equal(a, b) for a, b in zip(averaged.state_dict().values(),
                                                     plain.state_dict().values(), strict=True))
    acc, loss = evaluate(averaged, small.val)
    assert (acc, loss) == pytest.approx((h.epochs[0].val_acc, h.epochs[0].val_loss))
