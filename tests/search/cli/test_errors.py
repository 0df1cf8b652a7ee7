"""Bad input: one line on stderr, exit status 2, no traceback, nothing written.

THE table below lists each bad input with its exact message. Every row runs `nas-mnist` in this
process (``search.cli.main``) against a private copy of a finished study; a few also run as a real
`nas-mnist` subprocess. Downloads are made impossible, as on a machine without network.
Placeholders: {studies} the studies folder (holding study 'tiny'), {data} a complete MNIST root,
{empty} a data root without MNIST, {file} a plain file, {trial} a completed trial of 'tiny'.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.error import URLError

import optuna
import pytest
import torch

from search import cli
from space import smallest_budget

_CUDA = torch.cuda.is_available()
_ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False
try:
    import psycopg  # noqa: F401

    _PSYCOPG = True
except ModuleNotFoundError:
    _PSYCOPG = False


def _needs(command: str) -> pytest.MarkDecorator:
    """Skip a row until the subcommand it runs is registered in the CLI."""
    return pytest.mark.skipif(f"search.cli.{command}" not in cli._COMMANDS,
                              reason=f"`nas-mnist {command}` is not registered yet")


# the rest of a valid search command: a row's own option comes last and wins
SEARCH = ["search", "--study-dir", "{studies}", "--data-dir", "{data}", "--device", "cpu",
          "--budget", "3000", "--epochs", "1", "--n-trials", "1", "--train-subset", "300",
          "--val-size", "200", "--no-warm-start", "--no-references", "--quiet"]
E = "nas-mnist: error: "
ES = "nas-mnist search: error: argument "
NAME_RULE = "use letters, digits, '.', '_' or '-' (no path separators)"
NO_MNIST = ("MNIST not found under {empty}/MNIST/raw and could not be downloaded; copy the four "
            "MNIST .gz files there or pass --data-dir")
SCHEMES = "use sqlite:///FILE, postgresql://USER@HOST/DB or journal:///FILE"

# (argv, the one line on stderr, setup) ... THE table
TABLE = [
    # search: numbers
    pytest.param(SEARCH + ["--budget", "0"], ES + "--budget: must be > 0, got 0", None,
                 id="budget-zero"),
    pytest.param(SEARCH + ["--budget", "-5"], ES + "--budget: must be > 0, got -5", None,
                 id="budget-negative"),
    pytest.param(SEARCH + ["--budget", "1e4"],
                 ES + "--budget: expected a whole number, got '1e4'", None,
                 id="budget-not-integer"),
    pytest.param(SEARCH + ["--budget", "100"],
                 E + "--budget 100 is below the smallest net of the space ({smallest} params)",
                 None, id="budget-too-small"),
    pytest.param(SEARCH + ["--epochs", "0"], E + "--epochs must be >= 1, got 0", None,
                 id="epochs-zero"),
    pytest.param(SEARCH + ["--epochs", "-3"], E + "--epochs must be >= 1, got -3", None,
                 id="epochs-negative"),
    pytest.param(SEARCH + ["--n-trials", "0"], E + "--n-trials must be >= 1, got 0", None,
                 id="n-trials-zero"),
    pytest.param(SEARCH + ["--val-size", "0"], E + "--val-size must be in (0, 60000), got 0",
                 None, id="val-size-zero"),
    pytest.param(SEARCH + ["--val-size", "60000"],
                 E + "--val-size must be in (0, 60000), got 60000", None, id="val-size-60000"),
    pytest.param(SEARCH + ["--timeout", "0"], E + "--timeout must be > 0 seconds, got 0.0", None,
                 id="timeout-zero"),
    pytest.param(SEARCH + ["--train-subset", "0"], ES + "--train-subset: must be > 0, got 0",
                 None, id="train-subset-zero"),
    # search: device
    pytest.param(SEARCH + ["--device", "tpu"],
                 E + "unknown device 'tpu': use auto, cpu, cuda or cuda:N", None,
                 id="device-unknown"),
    pytest.param(SEARCH + ["--device", "mps"],
                 E + "unsupported device 'mps': use auto, cpu, cuda or cuda:N", None,
                 id="device-unsupported"),
    pytest.param(SEARCH + ["--device", "cuda"], E + "device 'cuda' is not available on this "
                 "machine", None, id="device-cuda-missing",
                 marks=pytest.mark.skipif(_CUDA, reason="this machine has CUDA")),
    # search: storage, study name, folders, data
    pytest.param(SEARCH + ["--storage", "mysql://u@h/db"],
                 E + "unknown storage URL 'mysql://u@h/db': " + SCHEMES, None,
                 id="storage-unknown-scheme"),
    pytest.param(SEARCH + ["--storage", "studies.db"],
                 E + "unknown storage URL 'studies.db': " + SCHEMES, None,
                 id="storage-no-scheme"),
    pytest.param(SEARCH + ["--storage", "postgresql://nobody:pw@127.0.0.1:1/nas"],
                 E + "cannot reach PostgreSQL at postgresql://nobody:***@127.0.0.1:1/nas: "
                 'connection failed: connection to server at "127.0.0.1", port 1 failed: '
                 "Connection refused", None, id="postgres-unreachable",
                 marks=pytest.mark.skipif(not _PSYCOPG, reason="psycopg is not installed")),
    pytest.param(SEARCH + ["--study-name", "a/b"], E + "bad study name 'a/b': " + NAME_RULE,
                 None, id="study-name-slash"),
    pytest.param(SEARCH + ["--study-name", "../up"], E + "bad study name '../up': " + NAME_RULE,
                 None, id="study-name-dotdot"),
    pytest.param(SEARCH + ["--study-dir", "{file}/studies"],
                 E + "cannot write to studies folder {file}/studies", None,
                 id="studies-folder-under-a-file"),
    pytest.param(SEARCH + ["--study-dir", "{studies}/locked/deeper"],
                 E + "cannot write to studies folder {studies}/locked/deeper", "read-only",
                 id="studies-folder-read-only",
                 marks=pytest.mark.skipif(_ROOT, reason="root may write to any folder")),
    pytest.param(SEARCH + ["--data-dir", "{empty}"], E + NO_MNIST, None, id="data-missing"),
    pytest.param(SEARCH + ["--study-name", "junk"],
                 E + "cannot open study database {studies}/junk.db: file is not a database",
                 "junk-db", id="study-db-not-a-database"),
    pytest.param(SEARCH + ["--study-name", "tiny", "--budget", "7000", "--epochs", "3"],
                 E + "study 'tiny' was created with epochs 2 (not 3), val_size 500 (not 200), "
                 "train_subset 1000 (not 300)", None, id="resume-with-other-settings"),
    # pareto
    pytest.param(["pareto", "--study", "nosuch", "--study-dir", "{studies}"],
                 E + "no study named 'nosuch': {studies}/nosuch.db does not exist", None,
                 id="pareto-no-study"),
    pytest.param(["pareto", "--study", "a/b", "--study-dir", "{studies}"],
                 E + "bad study name 'a/b': " + NAME_RULE, None, id="pareto-bad-name"),
    pytest.param(["pareto", "--study", "nosuch", "--storage", "sqlite:///{studies}/tiny.db"],
                 E + "no study named 'nosuch' in this storage (studies: tiny)", None,
                 id="pareto-storage-without-the-study"),
    pytest.param(["pareto", "--study", "tiny", "--storage", "mysql://u@h/db"],
                 E + "unknown storage URL 'mysql://u@h/db': " + SCHEMES, None,
                 id="pareto-unknown-scheme"),
    pytest.param(["pareto", "--study", "tiny", "--study-dir", "{studies}", "--evaluate",
                  "--data-dir", "{empty}", "--device", "cpu"], E + NO_MNIST, None,
                 id="pareto-evaluate-data-missing"),
    pytest.param(["pareto", "--study", "tiny", "--study-dir", "{studies}", "--evaluate",
                  "--data-dir", "{data}", "--device", "cpu", "--reseed", "0"],
                 E + "weights of trial {trial} cannot be read: OSError", "garbage",
                 id="pareto-evaluate-corrupt-weights"),
    pytest.param(["pareto", "--study", "tiny", "--study-dir", "{studies}", "--evaluate",
                  "--data-dir", "{data}", "--device", "cpu", "--reseed", "0"],
                 E + "stored weights of trial {trial} do not fit its config", "foreign",
                 id="pareto-evaluate-foreign-weights"),
    # export
    pytest.param(["export", "--study", "nosuch", "--study-dir", "{studies}", "--trial", "0"],
                 E + "no study named 'nosuch': {studies}/nosuch.db does not exist", None,
                 id="export-no-study", marks=_needs("export")),
    pytest.param(["export", "--study", "tiny", "--study-dir", "{studies}", "--trial", "99"],
                 E + "study 'tiny' has no trial 99", None, id="export-no-trial",
                 marks=_needs("export")),
    pytest.param(["export", "--study", "tiny", "--study-dir", "{studies}", "--trial", "{trial}"],
                 E + "weights of trial {trial} cannot be read: OSError", "garbage",
                 id="export-corrupt-weights", marks=_needs("export")),
    pytest.param(["export", "--study", "tiny", "--study-dir", "{studies}", "--trial", "{trial}"],
                 E + "stored weights of trial {trial} do not fit its config", "foreign",
                 id="export-foreign-weights", marks=_needs("export")),
    pytest.param(["export", "--study", "tiny", "--study-dir", "{studies}", "--trial", "{trial}"],
                 E + "weights of trial {trial} cannot be read: UnpicklingError", "code",
                 id="export-weights-with-code", marks=_needs("export")),
    # train
    pytest.param(["train", "--study", "nosuch", "--study-dir", "{studies}", "--trial", "0"],
                 E + "no study named 'nosuch': {studies}/nosuch.db does not exist", None,
                 id="train-no-study", marks=_needs("train")),
    pytest.param(["train", "--study", "tiny", "--study-dir", "{studies}", "--trial", "99"],
                 E + "study 'tiny' has no trial 99 (trials 0 to 9)", None, id="train-no-trial",
                 marks=_needs("train")),
]


class _Code:
    """A pickle that would run code when loaded without weights_only=True."""

    def __reduce__(self):
        return (print, ("CODE RAN",))


@pytest.fixture
def world(study_copy, mnist_root, tmp_path, monkeypatch) -> dict[str, str]:
    """Paths for the placeholders; MNIST downloads fail as without network."""
    import torchvision.datasets.mnist as tv_mnist

    def offline(*_a, **_k):
        raise URLError("no network in tests")

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", offline)
    studies, name = study_copy
    (tmp_path / "empty").mkdir()
    (tmp_path / "afile").write_text("not a folder")
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{studies}/{name}.db")
    # a front member with weights: `pareto --evaluate` reads only the front's files
    trial = next(t for t in study.best_trials if "weights_artifact" in t.user_attrs)
    return {"studies": str(studies), "data": str(mnist_root), "empty": str(tmp_path / "empty"),
            "file": str(tmp_path / "afile"), "trial": str(trial.number),
            "smallest": str(smallest_budget()), "weights": str(
                studies / name / "artifacts" / trial.user_attrs["weights_artifact"])}


def _setup(kind: str | None, w: dict[str, str]) -> None:
    if kind in ("garbage", "foreign", "code"):
        weights = Path(w["weights"])
        if kind == "garbage":  # cut short, as by a full disk
            weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        elif kind == "foreign":  # a real state dict, of another net
            torch.save({"fc.weight": torch.zeros(10, 4), "fc.bias": torch.zeros(10)}, weights)
        else:
            torch.save({"fc.weight": _Code()}, weights)
    elif kind == "junk-db":
        Path(w["studies"], "junk.db").write_text("not a database")
    elif kind == "read-only":
        locked = Path(w["studies"], "locked")
        locked.mkdir()
        locked.chmod(0o500)


def _tree(root: Path) -> dict[str, tuple[int, int] | None]:
    """Every file and folder under `root`, with each file's size and modification time; the data
    root without MNIST is left out (a download attempt makes its empty MNIST/raw folders)."""
    out: dict[str, tuple[int, int] | None] = {}
    for p in sorted(root.rglob("*")):
        if p.is_relative_to(root / "empty"):
            continue
        st = p.stat()
        out[str(p.relative_to(root))] = None if p.is_dir() else (st.st_size, st.st_mtime_ns)
    return out


def _fill(argv: list[str], w: dict[str, str]) -> list[str]:
    return [a.format(**w) for a in argv]


@pytest.mark.parametrize(("argv", "message", "setup"), TABLE)
def test_bad_input_is_one_line(argv, message, setup, world, tmp_path, capsys):
    _setup(setup, world)
    before = _tree(tmp_path)
    try:
        rc = cli.main(_fill(argv, world))
    except SystemExit as e:  # argparse's usage errors exit from parse_args
        rc = e.code
    out, err = capsys.readouterr()
    assert (rc, err) == (2, message.format(**world) + "\n")
    assert "Traceback" not in out and "CODE RAN" not in out
    assert _tree(tmp_path) == before  # nothing written, nothing touched


SUBPROCESS_ROWS = ["budget-too-small", "pareto-no-study"]  # a process start costs seconds


@pytest.mark.slow
@pytest.mark.parametrize("row", SUBPROCESS_ROWS)
def test_bad_input_in_a_real_process(row, world, tmp_path):
    """The console script itself: no warning, log line or traceback besides the one line."""
    argv, message, setup = next(p.values for p in TABLE if p.id == row)
    _setup(setup, world)
    before = _tree(tmp_path)
    exe = shutil.which("nas-mnist")
    cmd = [exe] if exe else [sys.executable, "-m", "search.cli"]
    r = subprocess.run([*cmd, *_fill(argv, world)], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path, env=os.environ | {"PYTHONWARNINGS": "default"})
    assert (r.returncode, r.stderr) == (2, message.format(**world) + "\n")
    assert r.stdout == ""
    assert _tree(tmp_path) == before
