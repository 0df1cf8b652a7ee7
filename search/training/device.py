"""Which torch device a command trains on: ``auto`` (CUDA when there is one), cpu, cuda, cuda:N;
and what it trains with: the cores it may use, the package versions (stored on every trial)."""

from __future__ import annotations

import functools
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from search.errors import UserError

if TYPE_CHECKING:
    import torch

__all__ = ["cpu_cores", "resolve_device", "versions"]


def resolve_device(name: str) -> torch.device:
    import torch  # here, not above: cpu_cores sizes the bench plans that `--help` shows

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise UserError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        idx = dev.index or 0
        if not torch.cuda.is_available() or idx >= torch.cuda.device_count():
            raise UserError(f"device {name!r} is not available on this machine")
    elif dev.type != "cpu":
        raise UserError(f"unsupported device {name!r}: use auto, cpu, cuda or cuda:N")
    return dev


def cpu_cores() -> int:
    """Cores this process may run on (its affinity, e.g. a container's or taskset's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@functools.cache  # per process: package versions don't change between trials
def versions() -> dict[str, str]:
    """Python's version and each package's installed one (or "not installed")."""
    out = {"python": platform.python_version()}
    for pkg in ("nas-mnist", "torch", "torchvision", "optuna"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out
