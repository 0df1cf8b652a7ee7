"""Shared fixtures: an offline MNIST root, a tiny device-resident dataset, a small finished study.

MNIST comes from ``../shared/data`` beside the checkout (or $NAS_MNIST_SHARED), copied into a
temporary root so nothing is ever downloaded and the shared folder stays untouched.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    env = os.environ.get("NAS_MNIST_SHARED")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding MNIST/raw/*.gz (a copy of the shared files)."""
    src = shared_data() / "MNIST"
    if not (src / "raw" / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"MNIST files not found under {src}/raw (set NAS_MNIST_SHARED)")
    root = tmp_path_factory.mktemp("mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (src / "raw").glob("*.gz"):  # plain copies: the shared folder's modes are read-only
        shutil.copyfile(f, raw / f.name)
    return root


@pytest.fixture(scope="session")
def tiny_data(mnist_root: Path):
    """1,000 training and 500 validation images on the CPU."""
    from search.data import load_mnist

    return load_mnist(mnist_root, device="cpu", val_size=500, subset=1000, download=False)


@pytest.fixture(scope="session")
def finished_study(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path, tiny_data):
    """A small finished SQLite study: (study_dir, study_name). Treat as read-only; copy to edit."""
    from search.run import SearchArgs, run_search

    study_dir = tmp_path_factory.mktemp("studies")
    args = SearchArgs(
        budget=7000, n_trials=4, epochs=2, study_name="tiny", study_dir=study_dir,
        data_dir=str(mnist_root), device="cpu", val_size=500, train_subset=1000, quiet=True,
        references=True,  # ref6016 fits: the study holds one reference trial
    )
    run_search(args, data=tiny_data)
    return study_dir, "tiny"


@pytest.fixture
def study_copy(finished_study, tmp_path: Path):
    """A private copy of the finished study that a test may change: (study_dir, study_name)."""
    src, name = finished_study
    dst = tmp_path / "studies"
    shutil.copytree(src, dst)
    return dst, name
