"""How the trainer runs, never what it computes: one frozen dataclass of speed switches.

Every switch leaves the arithmetic of a training run the same (same seed, same batches, same
updates up to floating-point reassociation); they only decide memory layout, kernels and the
allocator. The defaults are the measured winners (docs/benchmarks.md, "bench speed");
``Speed.plain()`` is the trainer as it was before them, for benchmarks and as the off switch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass, replace

import torch

__all__ = ["DEFAULT_SPEED", "Speed", "keep_freed_pages"]


@dataclass(frozen=True)
class Speed:
    channels_last: bool | None = None  # NHWC; None: on CUDA, and on the CPU at one thread
    compile: bool = False  # torch.compile the training step (compile time is paid per trial)
    # torch.compile's mode; "reduce-overhead" replays the step's kernels as CUDA graphs (CUDA only:
    # launch-bound tiny nets), on the CPU it compiles as "default"
    compile_mode: str = "default"
    eval_batch: int = 4096  # images per validation forward pass
    keep_pages: bool = True  # CPU: glibc keeps freed memory instead of unmapping it (see below)
    foreach: bool = False  # one multi-tensor optimizer update per step (measured: no gain on CPU)

    @classmethod
    def plain(cls) -> Speed:
        """The trainer before these switches: NHWC at one thread only, per-tensor updates,
        glibc's default allocator settings."""
        return cls(keep_pages=False)

    def nhwc(self, device: torch.device) -> bool:
        if self.channels_last is not None:
            return self.channels_last
        # On CPU, NHWC trained 1.2-1.5x faster with one thread but scaled worse over two threads
        # (0.8-1.1x of NCHW on a 2-core box), so it is used only single-threaded.
        return device.type == "cuda" or torch.get_num_threads() == 1


def _from_env() -> Speed:
    """NAS_MNIST_SPEED=plain turns the switches off, NAS_MNIST_COMPILE=1 turns torch.compile on
    (=graphs: in its CUDA-graph mode); environment variables, so that --jobs workers and pareto's
    retrains inherit them."""
    base = Speed.plain() if os.environ.get("NAS_MNIST_SPEED", "") == "plain" else Speed()
    mode = os.environ.get("NAS_MNIST_COMPILE", "")
    return replace(base, compile=mode in ("1", "graphs"),
                   compile_mode="reduce-overhead" if mode == "graphs" else "default")


DEFAULT_SPEED = _from_env()

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameters, glibc's malloc.h
_kept = False


def keep_freed_pages() -> bool:
    """Tell glibc to serve every allocation from its heap and never hand freed memory back.

    A training step frees and re-allocates megabyte-sized activations; by default glibc maps those
    afresh with mmap each time, and the kernel zeroes every page on first touch: ~1,500 page faults
    per step on a narrow 28x28 net at batch 128. No allocator library replaces this from inside
    Python (jemalloc/tcmalloc need LD_PRELOAD before start), so we set glibc's own knobs. Memory
    stays at the process's peak, which a trainer reaches in its first step anyway. Returns whether
    the settings are in force (False off glibc, e.g. on macOS).
    """
    global _kept
    if _kept:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    _kept = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _kept
