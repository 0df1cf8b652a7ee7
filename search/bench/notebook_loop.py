"""The reference notebooks' training loop, the baseline that `nas-mnist bench speed` measures.

torchvision MNIST with per-sample PIL ``RandomRotation(7)``/``ToTensor``/``Normalize``, a DataLoader
(batch 128, shuffle, one worker), SGD (lr 0.01, momentum 0.9), and the running loss read with
``loss.item()`` every step, as the notebooks do.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import MNIST

from search.training.data import MEAN, STD
from space import NetConfig, build

__all__ = ["BATCH", "Loop", "notebook_reps"]

BATCH = 128  # images per step in both training loops (the notebooks' batch)
Loop = Generator[float, None, None]  # a timed training loop: images/s of each repetition


def notebook_reps(net: NetConfig, root: Path, device: torch.device, *, steps: int,
                  warmup: int) -> Loop:
    """Images/s of the notebooks' loop, one value per ``next`` (the first also sets up and warms
    up, untimed); ``close()`` shuts the DataLoader's worker down."""
    tf = transforms.Compose([
        transforms.RandomRotation(7), transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,)),
    ])
    loader = DataLoader(MNIST(str(root), train=True, transform=tf, download=False),
                        batch_size=BATCH, shuffle=True, num_workers=1)
    torch.manual_seed(0)
    model = build(net).to(device)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    feed = _forever(loader)
    running = 0.0

    def run(k: int) -> None:
        nonlocal running
        for _ in range(k):
            x, y = next(feed)
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            running += loss.item()  # as the notebooks do: one host sync per step

    try:
        run(warmup)
        while True:
            t0 = time.perf_counter()
            run(steps)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            yield steps * BATCH / (time.perf_counter() - t0)
    finally:
        feed.close()


def _forever(loader: DataLoader) -> Iterator:
    while True:  # a new epoch restarts the worker process, as in the notebooks
        yield from loader
