"""search.training.data: loading and splitting MNIST, normalisation, augmentation, batching."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from search.training import data
from search.training.data import (
    DataError,
    Split,
    augment,
    batches,
    load_mnist,
    load_test,
    normalize,
)


def _images(split: Split) -> set[bytes]:
    # MNIST's 60k training images are pairwise distinct, so image bytes identify indices.
    return {img.numpy().tobytes() for img in split.x}


def test_load_shapes_and_types(mnist_root: Path) -> None:
    d = load_mnist(mnist_root, val_size=1000, subset=2000, download=False)
    assert d.device == torch.device("cpu")
    assert d.train.x.shape == (2000, 28, 28) and d.train.x.dtype == torch.uint8
    assert d.train.y.shape == (2000,) and d.train.y.dtype == torch.int64
    assert d.val.x.shape == (1000, 28, 28) and len(d.val) == 1000
    assert int(d.train.y.min()) >= 0 and int(d.train.y.max()) <= 9
    assert len(d.train.y.unique()) == 10  # a random subset covers every class


def test_split_is_disjoint_and_seeded(mnist_root: Path) -> None:
    a = load_mnist(mnist_root, val_size=1000, subset=2000, download=False)
    assert not _images(a.train) & _images(a.val)
    b = load_mnist(mnist_root, val_size=1000, subset=2000, download=False)
    assert torch.equal(a.val.x, b.val.x) and torch.equal(a.train.y, b.train.y)
    c = load_mnist(mnist_root, val_size=1000, subset=2000, split_seed=1, download=False)
    assert not torch.equal(a.val.x, c.val.x)


def test_full_split_covers_training_set(mnist_root: Path) -> None:
    d = load_mnist(mnist_root, val_size=10_000, download=False)
    assert (len(d.train), len(d.val)) == (50_000, 10_000)
    assert len(_images(d.train) | _images(d.val)) == 60_000


@pytest.mark.parametrize("val_size", [0, -5, 60_000])
def test_bad_val_size(tmp_path: Path, val_size: int) -> None:
    with pytest.raises(DataError, match=str(val_size)):
        load_mnist(tmp_path, val_size=val_size, download=False)


def test_missing_files_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path, download=False)
    msg = str(err.value)
    assert str(tmp_path) in msg and "\n" not in msg


def test_only_load_test_touches_the_test_set(mnist_root: Path) -> None:
    before = data.TEST_LOADS
    load_mnist(mnist_root, val_size=1000, subset=100, download=False)
    assert data.TEST_LOADS == before
    test = load_test(mnist_root, download=False)
    assert data.TEST_LOADS == before + 1
    assert test.x.shape == (10_000, 28, 28) and test.y.dtype == torch.int64


def test_normalize() -> None:
    x = torch.tensor([[[0, 255]]], dtype=torch.uint8)
    z = normalize(x)
    assert z.shape == (1, 1, 1, 2) and z.dtype == torch.float32
    expected = torch.tensor([-data.MEAN / data.STD, (1 - data.MEAN) / data.STD])
    assert torch.allclose(z.flatten(), expected)


@pytest.fixture(scope="module")
def images(mnist_root: Path) -> torch.Tensor:
    return normalize(load_mnist(mnist_root, val_size=1000, subset=256, download=False).train.x)


def test_augment_zero_is_identity(images: torch.Tensor) -> None:
    out = augment(images, rotate=0.0, translate=0.0, generator=None)
    assert torch.equal(out, images)


def test_augment_range_shape_and_brightness(images: torch.Tensor) -> None:
    original = images.clone()
    g = torch.Generator().manual_seed(0)
    out = augment(images, rotate=15.0, translate=0.15, generator=g)
    assert torch.equal(images, original)  # input untouched
    assert out.shape == images.shape and torch.isfinite(out).all()
    lo, hi = normalize(torch.tensor([0, 255], dtype=torch.uint8)).flatten().tolist()
    assert out.min() >= lo - 1e-5 and out.max() <= hi + 1e-5  # padding is black, not grey
    assert not torch.equal(out, images)
    assert abs(out.mean().item() - images.mean().item()) < 0.05


def test_augment_is_deterministic_per_seed(images: torch.Tensor) -> None:
    def run(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return augment(images, rotate=10.0, translate=0.1, generator=g)

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_translate_only_shifts_the_digit(images: torch.Tensor) -> None:
    out = augment(images[:8], rotate=0.0, translate=0.1, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(out, images[:8])


def test_batches() -> None:
    split = Split(torch.arange(10, dtype=torch.uint8).view(10, 1, 1), torch.arange(10))
    ordered = list(batches(split, 4, shuffle=False))
    assert [len(y) for _, y in ordered] == [4, 4, 2]  # last partial batch kept
    assert torch.equal(torch.cat([y for _, y in ordered]), torch.arange(10))

    def order(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.cat([y for _, y in batches(split, 4, shuffle=True, generator=g)])

    assert torch.equal(order(0), order(0))
    assert torch.equal(order(0).sort().values, torch.arange(10))  # a permutation
    assert not torch.equal(order(0), order(1))
    for x, y in batches(split, 3, shuffle=True):
        assert torch.equal(x.flatten().long(), y)  # images stay paired with their labels


def test_a_damaged_archive_is_named_with_what_is_wrong(tmp_path: Path, mnist_root: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (mnist_root / "MNIST" / "raw").glob("*.gz"):
        (raw / f.name).write_bytes(f.read_bytes())
    labels = raw / "train-labels-idx1-ubyte.gz"
    b = bytearray(labels.read_bytes())
    b[len(b) // 2] ^= 0xFF  # one flipped byte: gzip's CRC (or the deflate stream) catches it
    labels.write_bytes(bytes(b))
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path, download=False)
    msg = str(e.value)
    assert msg.startswith(f"MNIST file {labels} is damaged (corrupt gzip data; md5 ")
    assert msg.endswith(" is not torchvision's d53e105ee54ea40749a09fcbcd1e9432); delete it to "
                        "download it again, or copy a good one there")


def test_zoom_enlarges_or_shrinks_the_digit_and_leaves_the_other_draws_alone(
        images: torch.Tensor) -> None:
    def run(x: torch.Tensor, **kw) -> torch.Tensor:
        return augment(x, **kw, generator=torch.Generator().manual_seed(5))

    black = normalize(torch.tensor([0], dtype=torch.uint8)).item()

    def ink(x: torch.Tensor) -> torch.Tensor:  # pixels with ink, per image
        return (x > black + 0.5).flatten(1).float().sum(1)

    one = images[:1].repeat(200, 1, 1, 1)
    inks = ink(run(one, rotate=0.0, translate=0.0, scale=0.3)) / ink(images[:1])
    assert inks.min() < 0.85 and inks.max() > 1.15  # zoomed out and in: ink ~ factor squared
    # zoom draws come after the rotation and shift draws: those stay what they were
    rot = run(images, rotate=10.0, translate=0.05)
    assert torch.equal(rot, run(images, rotate=10.0, translate=0.05, scale=0.0))
    assert not torch.equal(rot, run(images, rotate=10.0, translate=0.05, scale=0.1))
