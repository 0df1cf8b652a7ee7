"""search.training.speed: every speed switch trains the same numbers, only faster or slower."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from search.training.data import MnistData, load_mnist
from search.training.speed import DEFAULT_SPEED, Speed
from search.training.train import evaluate, train
from space.recipe import TrainConfig


@pytest.fixture(scope="module")
def small(mnist_root: Path) -> MnistData:
    return load_mnist(mnist_root, val_size=300, subset=600, download=False)


def _net() -> nn.Module:
    torch.manual_seed(0)  # BN but no dropout: layout and kernels must not change the numbers
    return nn.Sequential(nn.Conv2d(1, 6, 3), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 10, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())


@pytest.mark.parametrize("speed", [
    DEFAULT_SPEED, replace(Speed.plain(), channels_last=True), Speed(channels_last=False),
    Speed(eval_batch=7), Speed(foreach=True),
], ids=["default", "plain-nhwc", "nchw", "eval-batch-7", "foreach-step"])
def test_every_switch_trains_the_same(small: MnistData, speed: Speed) -> None:
    hp = TrainConfig(epochs=1, batch_size=100, rotate=7.0, translate=0.1)
    ref_model, model = _net(), _net()
    ref = train(ref_model, hp, small, seed=3, speed=Speed.plain()).epochs[0]
    got = train(model, hp, small, seed=3, speed=speed).epochs[0]
    assert math.isclose(ref.train_loss, got.train_loss, rel_tol=1e-4)
    assert math.isclose(ref.val_loss, got.val_loss, rel_tol=1e-3)
    assert abs(ref.val_acc - got.val_acc) < 0.01
    for p, q in zip(ref_model.parameters(), model.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-4)
    assert evaluate(model, small.val, speed=speed) == pytest.approx(
        evaluate(ref_model, small.val), rel=1e-3)


def test_nhwc_rule() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert Speed().nhwc(cuda) and not Speed(channels_last=False).nhwc(cuda)
    assert Speed(channels_last=True).nhwc(cpu)
    assert Speed().nhwc(cpu) == (torch.get_num_threads() == 1)


_PAGE_FAULTS = """
import resource, sys, torch
from torch import nn
from search.training.speed import keep_freed_pages
torch.set_num_threads(1)
if sys.argv[1] == "keep":
    assert keep_freed_pages()
net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(8),
                    nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(8), nn.Flatten(),
                    nn.Linear(8 * 28 * 28, 10))
x = torch.randn(128, 1, 28, 28)
def faults(steps):  # per training step: MB-sized activations freed and asked for again
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        net(x).sum().backward()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps
faults(20)  # warm-up: the heap grows to the step's peak
print(faults(20))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_keep_freed_pages_stops_the_page_faults() -> None:
    def faults(mode: str) -> float:
        out = subprocess.run([sys.executable, "-c", _PAGE_FAULTS, mode], check=True,
                             capture_output=True, text=True).stdout
        return float(out.split()[-1])

    # thousands of fresh pages per step under glibc's defaults; kept, next to none (a late step
    # may still grow the heap by a few pages)
    default, keep = faults("default"), faults("keep")
    assert default > 1_000 and keep < default / 10, (default, keep)


def test_graphs_only_on_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """CUDA graphs are torch.compile's reduce-overhead mode on CUDA; the CPU compiles plainly."""
    from search.training import train as t

    seen: list[str] = []
    monkeypatch.setattr(torch, "compile", lambda model, **kw: seen.append(kw["mode"]) or model)
    graphs = Speed(compile=True, compile_mode="reduce-overhead")
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for dev in (cpu, cuda):
        t._compiled(_net(), graphs, dev)
    t._compiled(_net(), Speed(compile=True), cuda)
    assert seen == ["default", "reduce-overhead", "default"]
    assert t._graphs(cuda, graphs) and not t._graphs(cpu, graphs)
    assert t._compiled(m := _net(), Speed(), cuda) is m  # compile off: the model itself


def test_compile_failure_falls_back_to_eager(small: MnistData,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(torch, "compile", lambda model, **kw: Broken())
    with pytest.warns(RuntimeWarning, match="torch.compile failed"):
        h = train(_net(), TrainConfig(epochs=1, batch_size=128), small, speed=Speed(compile=True))
    assert len(h.epochs) == 1 and math.isfinite(h.epochs[0].train_loss)


def test_environment_switches() -> None:
    code = ("from search.training.speed import DEFAULT_SPEED as s; "
            "print(s.keep_pages, s.foreach, s.compile, s.compile_mode)")

    def speed(**env: str) -> str:
        import os

        e = {k: v for k, v in os.environ.items() if not k.startswith("NAS_MNIST_")} | env
        return subprocess.run([sys.executable, "-c", code], env=e, check=True,
                              capture_output=True, text=True).stdout.split()

    assert speed() == ["True", "False", "False", "default"]
    assert speed(NAS_MNIST_SPEED="plain") == ["False", "False", "False", "default"]
    assert speed(NAS_MNIST_SPEED="plain", NAS_MNIST_COMPILE="1") == ["False", "False", "True",
                                                                     "default"]
    assert speed(NAS_MNIST_COMPILE="graphs") == ["True", "False", "True", "reduce-overhead"]
