"""MNIST as device-resident tensors: loading, the train/val split, normalisation, augmentation.

The whole dataset fits in a few dozen MB, so it is loaded once with torchvision and kept on the
training device; batches are index slices and augmentation is one batched affine warp. The 10k test
set is read only by :func:`load_test`, which counts its calls in ``TEST_LOADS`` so tests can prove
that a search never looked at it.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import math
import os
import shutil
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

import torch
import torch.nn.functional as F
from torchvision.datasets import MNIST
from torchvision.datasets.utils import calculate_md5, check_integrity

from search.atomic import atomic_write
from search.config import SearchConfig
from search.errors import UserError

__all__ = [
    "DEFAULT_ROOT",
    "MEAN",
    "STD",
    "TEST_LOADS",
    "DataError",
    "MnistData",
    "Split",
    "augment",
    "batches",
    "load_mnist",
    "load_test",
    "normalize",
]

DEFAULT_ROOT: str = os.environ.get("NAS_MNIST_DATA") or str(Path("~/.cache/nas-mnist").expanduser())
TRAIN_SIZE = 60_000  # images in MNIST's training file
MEAN = 0.1307  # pixel mean of the MNIST training images, in [0, 1] units
STD = 0.3081  # pixel standard deviation, same units

# Incremented by every load_test() call: a search must leave it at zero.
TEST_LOADS = 0


class DataError(UserError):
    """The data cannot be loaded or a data option is invalid; the message is one user-facing line.

    A :class:`~search.errors.UserError`, so the CLI reports it without a traceback.
    """


@dataclass
class Split:
    """Images ``x`` (uint8, N x 28 x 28) and labels ``y`` (int64, N), both on the same device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return self.y.shape[0]


@dataclass
class MnistData:
    """The training images carved into a train and a validation split (never the test set)."""

    train: Split
    val: Split
    device: torch.device


def _gunzip(archive: Path, out: Path) -> None:
    with gzip.open(archive, "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)


def _unpack_local(raw: Path) -> None:
    """Extract verified ``.gz`` files already in ``raw``, so offline loading needs no download step.

    torchvision reads only the unpacked files and unpacks ``.gz`` ones solely inside ``download()``,
    so without this ``download=False`` would fail even when the archives are present.
    """
    for filename, md5 in MNIST.resources:
        archive = raw / filename
        target = raw / archive.stem
        if not target.exists() and check_integrity(str(archive), md5):
            # workers starting together on a fresh data folder must never read a half-written file
            atomic_write(target, functools.partial(_gunzip, archive))


# Said the same way by the exported script (search/results/export_template.py).
DAMAGED = "MNIST file {path} is damaged ({what}); delete it to {redo}, or copy a good one there"
REDO_GZ = "download it again"
REDO_PLAIN = "unpack it again from its .gz (or download it)"


def _idx_problem(head: bytes, size: int) -> str | None:
    """What is wrong with an unpacked idx file, from its first 16 bytes and its size, or None."""
    if len(head) < 4 or head[:3] != b"\0\0\x08" or not 1 <= head[3] <= 3:
        return "not an MNIST idx file"
    ndim = head[3]
    if len(head) < 4 + 4 * ndim:
        return f"truncated: {size:,} bytes"
    want = 4 + 4 * ndim + math.prod(int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big")
                                    for i in range(ndim))
    if size < want:
        return f"truncated: {size:,} of {want:,} bytes"
    return None if size == want else f"{size:,} bytes, not {want:,}"


def _gz_problem(archive: Path, md5: str) -> str | None:
    """What is wrong with a .gz whose md5 is not torchvision's, or None when it is."""
    if check_integrity(str(archive), md5):
        return None
    checksum = f"md5 {calculate_md5(str(archive))} is not torchvision's {md5}"
    try:
        with gzip.open(archive, "rb") as f:
            data = f.read()
    except EOFError:
        return f"truncated; {checksum}"
    except (OSError, zlib.error):
        with open(archive, "rb") as f:
            gz = f.read(2) == b"\x1f\x8b"
        return f"{'corrupt gzip data' if gz else 'not a gzip file'}; {checksum}"
    problem = _idx_problem(data[:16], len(data))
    return f"{problem}; {checksum}" if problem else f"checksum mismatch: {checksum}"


def _damage(raw: Path, train: bool) -> str | None:
    """The first damaged MNIST file under `raw` (the split's own first) as one line, or None.
    torchvision reads the unpacked file where there is one, else its .gz."""
    files = sorted(MNIST.resources, key=lambda r: r[0].startswith("train") != train)
    for filename, md5 in files:
        archive, plain = raw / filename, raw / Path(filename).stem
        if plain.is_file():
            with open(plain, "rb") as f:
                problem = _idx_problem(f.read(16), plain.stat().st_size)
            if problem:
                return DAMAGED.format(path=plain, what=problem, redo=REDO_PLAIN)
        elif archive.is_file() and (problem := _gz_problem(archive, md5)):
            return DAMAGED.format(path=archive, what=problem, redo=REDO_GZ)
    return None


def _read(
    root: str | Path | None, *, train: bool, download: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels of one MNIST file pair through torchvision, or a one-line DataError."""
    root = Path(root if root is not None else DEFAULT_ROOT).expanduser()
    raw = root / "MNIST" / "raw"
    try:
        if raw.is_dir():
            _unpack_local(raw)
        # torchvision prints while downloading; keep the terminal quiet.
        with contextlib.redirect_stdout(io.StringIO()):
            ds = MNIST(str(root), train=train, download=download)
    except PermissionError as e:
        raise DataError(
            f"cannot write under {raw} ({e.strerror}); copy the MNIST folder somewhere writable "
            "and pass that as --data-dir"
        ) from None
    except Exception as e:  # torchvision reading a damaged file may raise nearly anything
        damage = _damage(raw, train) if raw.is_dir() else None
        if damage:
            raise DataError(damage) from None
        if not isinstance(e, (RuntimeError, URLError, OSError)):
            raise
        how = "and could not be downloaded" if download else "(download disabled)"
        raise DataError(
            f"MNIST not found under {raw} {how}; copy the four MNIST .gz files there "
            "or pass --data-dir"
        ) from None
    return ds.data, ds.targets


def load_mnist(
    root: str | Path | None = None,
    *,
    device: str | torch.device = "cpu",
    val_size: int = SearchConfig.val_size,
    split_seed: int = 0,
    subset: int | None = None,
    download: bool = True,
) -> MnistData:
    """Load the 60k training images and split off ``val_size`` of them for validation.

    The split is a fixed permutation drawn from ``split_seed``, so every trial of a study sees the
    same validation images. ``subset`` keeps only the first ``subset`` training images after the
    split (validation is unaffected); it exists for fast tests and smoke runs.
    """
    if not 0 < val_size < TRAIN_SIZE:
        raise DataError(f"val_size must be between 1 and {TRAIN_SIZE - 1}, got {val_size}")
    if subset is not None and subset < 1:
        raise DataError(f"subset must be >= 1, got {subset}")
    x, y = _read(root, train=True, download=download)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(split_seed))
    val_idx, train_idx = perm[:val_size], perm[val_size:]
    if subset is not None:
        train_idx = train_idx[:subset]
    device = torch.device(device)
    return MnistData(
        train=Split(x[train_idx].to(device), y[train_idx].to(device)),
        val=Split(x[val_idx].to(device), y[val_idx].to(device)),
        device=device,
    )


def load_test(
    root: str | Path | None = None, *, device: str | torch.device = "cpu", download: bool = True
) -> Split:
    """The 10k MNIST test set: for final scoring only, never during a search."""
    global TEST_LOADS
    TEST_LOADS += 1  # counted before reading: even a failed attempt touched the test files
    x, y = _read(root, train=False, download=download)
    return Split(x.to(device), y.to(device))


def normalize(x: torch.Tensor) -> torch.Tensor:
    """uint8 images (N x 28 x 28) -> float32 (N x 1 x 28 x 28) with MNIST mean 0 and std 1."""
    if x.dim() == 3:
        x = x.unsqueeze(1)
    return x.float() * (1.0 / (255.0 * STD)) - MEAN / STD  # one scale, one shift


def augment(
    x: torch.Tensor, *, rotate: float, translate: float, scale: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Randomly rotate (uniform in +-``rotate`` degrees), shift (uniform in +-``translate`` of the
    side) and zoom (factor uniform in 1 +- ``scale``) a normalised batch (N x 1 x H x W): one
    bilinear ``grid_sample`` on ``x``'s device.

    Returns ``x`` itself when every range is zero. Pixels that enter from outside the image are
    black, as MNIST's background is. The zoom factors are drawn after the rest, so a run without
    zoom draws (and computes) exactly what it did before zoom existed.
    """
    if rotate == 0 and translate == 0 and scale == 0:
        return x
    n = x.shape[0]
    u = torch.rand(n, 3, device=x.device, generator=generator) * 2 - 1  # uniform in [-1, 1)
    angle = u[:, 0] * math.radians(rotate)
    shift = u[:, 1:] * (2 * translate)  # affine_grid spans [-1, 1]: the image side is 2 units
    cos, sin = torch.cos(angle), torch.sin(angle)
    if scale:  # the grid maps output to input points: zooming in by z reads at 1/z
        zoom = 1 + (torch.rand(n, device=x.device, generator=generator) * 2 - 1) * scale
        cos, sin = cos / zoom, sin / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    ).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # grid_sample pads with 0, which in normalised units is a grey (mean-brightness) pixel. Warping
    # x - black instead makes the padding exactly black, without a round trip through [0, 1].
    black = -MEAN / STD
    return F.grid_sample(x - black, grid, mode="bilinear", align_corners=False) + black


def batches(
    split: Split, batch_size: int, *, shuffle: bool, generator: torch.Generator | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x_uint8, y)`` batches on the split's device, a fresh permutation per call when
    ``shuffle``; the last partial batch is kept."""
    n = len(split)
    device = split.y.device
    if shuffle:
        order = torch.randperm(n, device=device, generator=generator)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            yield split.x[idx], split.y[idx]
    else:
        for i in range(0, n, batch_size):  # slices are views: no gather needed in order
            yield split.x[i : i + batch_size], split.y[i : i + batch_size]
