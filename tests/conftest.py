"""Shared fixtures: an offline MNIST root, a tiny device-resident dataset, a small finished study.

MNIST comes from ``../shared/data`` beside the checkout (or $NAS_MNIST_SHARED), copied into a
temporary root so nothing is ever downloaded and the shared folder stays untouched.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# `search` without --jobs runs one worker per core on CPU; the tests want one in-process worker
# unless they ask for more (inherited by the commands they start as subprocesses)
os.environ["NAS_MNIST_JOBS"] = "1"
# A shell starts background jobs (`cmd &` without job control) with SIGINT ignored, and an ignored
# signal stays ignored across exec: the Ctrl-C tests, and the commands they start, need it live.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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
    from search.training.data import load_mnist

    return load_mnist(mnist_root, device="cpu", val_size=500, subset=1000, download=False)


@pytest.fixture(scope="session")
def finished_study(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path, tiny_data):
    """A small finished SQLite study: (study_dir, study_name). Treat as read-only; copy to edit."""
    from search.config import SearchConfig
    from search.loop.run import run_search

    study_dir = tmp_path_factory.mktemp("studies")
    args = SearchConfig(
        budget=7000, n_trials=10, epochs=2, study_name="tiny", study_dir=study_dir,
        data_dir=str(mnist_root), device="cpu", val_size=500, train_subset=1000, quiet=True,
        references=True,  # 7 warm starts (onepool_sep, onepool, ref10224), ref6016, 2 sampled
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


# A worker that imports everything, says it is ready, waits until all are, then opens the storage,
# so that the opens really do collide (a start-time barrier would depend on import speed).
_OPENER = """
import pathlib, sys, time
from search.errors import UserError
from search.store.study import open_storage
url, sync, me, n = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
(sync / me).touch()
while len(list(sync.iterdir())) < n:
    time.sleep(0.001)
try:
    open_storage(url)
except UserError as e:
    sys.exit(str(e))
"""


@pytest.fixture
def open_together(tmp_path: Path) -> Callable[[str, int], list[str]]:
    """open_together(url, n): n processes open `url` at once; returns the errors they printed."""

    def run(url: str, n: int) -> list[str]:
        sync = tmp_path / f"sync-{len(list(tmp_path.glob('sync-*')))}"
        sync.mkdir()
        procs = [subprocess.Popen([sys.executable, "-c", _OPENER, url, str(sync), str(i), str(n)],
                                  cwd=REPO, stderr=subprocess.PIPE, text=True) for i in range(n)]
        outs = [(p.communicate(timeout=300)[1], p.returncode) for p in procs]
        return [err.strip() or f"exit {rc}" for err, rc in outs if err or rc]

    return run
