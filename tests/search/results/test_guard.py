"""The search never reads the test set; `search --evaluate` reads it only after the search loop."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torchvision.datasets.mnist as tv_mnist
from optuna.trial import TrialState

import search.results.evaluate
from search.cli import main
from search.config import SearchConfig
from search.loop.run import run_search
from search.store.study import n_finished
from search.training import data
from search.training.data import Split

TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


@pytest.fixture
def train_only_root(mnist_root: Path, tmp_path: Path) -> Path:
    """A data root with the training files and no test data at all.

    torchvision's MNIST insists that all four unpacked files exist before it reads either pair, so
    the two test files are present but hold garbage: a reader that parsed them would fail.
    """
    raw = tmp_path / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_root / "MNIST" / "raw" / f, raw / f)
    for f in TEST_FILES:
        (raw / f).write_bytes(b"not MNIST: the test set is not here")
    return tmp_path / "root"


def test_search_never_reads_the_test_set(
    train_only_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []  # every MNIST file torchvision parses
    for fn in ("read_image_file", "read_label_file"):
        real = getattr(tv_mnist, fn)
        monkeypatch.setattr(tv_mnist, fn, lambda path, _real=real: read.append(path) or _real(path))
    raw = train_only_root / "MNIST" / "raw"
    garbage = {f: (raw / f).read_bytes() for f in TEST_FILES}
    loads = data.TEST_LOADS

    args = SearchConfig(budget=3000, n_trials=2, epochs=1, study_name="guard", study_dir=tmp_path,
                        data_dir=str(train_only_root), device="cpu", val_size=200,
                        train_subset=300, quiet=True)
    study = run_search(args)  # data=None: the search loads its data itself, from that root

    assert n_finished(study) == 2 and study.best_trials  # the search ran and has a front
    assert data.TEST_LOADS == loads
    assert read and all("t10k" not in Path(p).name for p in read)  # the spy saw train files only
    assert {f: (raw / f).read_bytes() for f in TEST_FILES} == garbage
    assert not list(raw.glob("t10k*.gz"))  # nothing fetched the test archives either
    with pytest.raises(Exception):  # noqa: B017 - whatever the error: the test data is unusable
        data.load_test(train_only_root, download=False)


@pytest.mark.slow
def test_search_evaluate_reads_test_after_the_loop(
    mnist_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna

    seen: list[int] = []  # finished trials of the study when the test set was loaded
    real = search.results.evaluate.load_test

    def spy(*args, **kwargs) -> Split:
        study = optuna.load_study(study_name="b3000",
                                  storage=f"sqlite:///{tmp_path / 'b3000.db'}")
        seen.append(n_finished(study))
        s = real(*args, **kwargs)
        return Split(s.x[:1000], s.y[:1000])  # scoring 10k images costs most of a minute here

    monkeypatch.setattr(search.results.evaluate, "load_test", spy)
    argv = ["search", "--budget", "3000", "--n-trials", "2", "--epochs", "1",
            "--train-subset", "300", "--val-size", "200", "--data-dir", str(mnist_root),
            "--study-dir", str(tmp_path), "--device", "cpu", "--no-warm-start", "--no-references",
            "--quiet", "--evaluate", "--reseed", "1"]
    assert main(argv) == 0
    assert seen == [2]  # once, after both trials had finished
    study = optuna.load_study(study_name="b3000", storage=f"sqlite:///{tmp_path / 'b3000.db'}")
    front = [t for t in study.best_trials if t.state == TrialState.COMPLETE]
    assert front and all("test_acc" in t.user_attrs and "test_mean" in t.user_attrs
                         for t in front)
    report = (tmp_path / "b3000" / "report.md").read_text()
    assert "not evaluated yet" not in report
    # and without --evaluate nothing reads it
    loads = data.TEST_LOADS
    assert main(argv[:-3] + ["--n-trials", "3"]) == 0
    assert data.TEST_LOADS == loads and seen == [2]

