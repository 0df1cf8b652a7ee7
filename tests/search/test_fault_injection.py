"""Faults a real machine has, injected end to end through the command line: each ends with one
line naming the file and the cause, a non-zero exit and a study that a rerun resumes.

- a full disk under the study folder (a real 300 KB tmpfs where we may mount one; an artifact
  write, and the front's table, refused by injection everywhere);
- a damaged MNIST file (a truncated .gz, a truncated unpacked file), in the search and in the
  exported script, said the same way;
- the exported script given a file that is not its weights, or the weights of another net;
- a second terminal's worker taking the last trial between this worker's check and its ask.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState

import search.store.faults as faults
from search.cli import main

REPO = Path(__file__).resolve().parents[2]
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
TINY = ["--epochs", "1", "--train-subset", "2000", "--val-size", "500", "--device", "cpu",
        "--budget", "2000", "--quiet"]
# heartbeat every second, stale after 2 s: a rerun takes over a trial left RUNNING quickly
FAST_BEAT = {"NAS_MNIST_HEARTBEAT_S": "1", "NAS_MNIST_GRACE_S": "2"}


def _search_argv(study_dir: Path, mnist_root: Path, n_trials: int, *extra: str) -> list[str]:
    return ["search", *TINY, "--n-trials", str(n_trials), "--study-dir", str(study_dir),
            "--data-dir", str(mnist_root), *extra]


def _cli(argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAS_MNIST_")}
    env |= {"OMP_NUM_THREADS": "1", "NAS_MNIST_JOBS": "1", "PYTHONPATH": str(REPO)} | FAST_BEAT
    return subprocess.run([sys.executable, "-m", "search.cli", *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _trials(study_dir: Path, name: str) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir / name}.db")
    return study.get_trials()


def _one_error_line(r: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in r.stdout + r.stderr, r.stderr[-3000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


# ---- 1. disk full ---------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 300 KB tmpfs (root only): room for the study database and a few trials, no more."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs root to mount a 300 KB tmpfs")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _grow(mnt: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=50m", str(mnt)], check=True)


def _check_settled(trials: list[optuna.trial.FrozenTrial], line: str) -> None:
    """Every trial the full disk stopped is FAIL with its reason and queued again, or was left
    RUNNING (and said so) where the disk refused even that: the rerun's heartbeat check takes it."""
    for t in trials:
        if t.state == TrialState.RUNNING:
            assert f"trial {t.number} left RUNNING (the rerun queues it again)" in line
        reason = t.user_attrs.get("fail_reason", "")
        if t.state == TrialState.FAIL and reason.startswith("stopped: "):
            assert reason.endswith("queued again for the next run")
            assert [c for c in trials if c.system_attrs.get("failed_trial") == t.number]


@pytest.mark.slow
def test_disk_full_on_a_real_small_disk_then_rerun_resumes(small_disk: Path, mnist_root: Path):
    argv = _search_argv(small_disk, mnist_root, 6)
    r = _cli(argv)
    line = _one_error_line(r)
    assert r.returncode == 2
    assert line.startswith(f"nas-mnist: error: cannot write {small_disk}/"), line
    assert any(c in line for c in ("database or disk is full", "No space left on device",
                                   "disk I/O error")), line
    assert line.endswith("once it can be written, rerun the same command to resume study "
                         "'b2000'")
    before = _trials(small_disk, "b2000")
    done = {t.number: t.values for t in before if t.state in FINISHED}
    assert f"; {len(done)} of 6 trials finished;" in line
    _check_settled(before, line)

    _grow(small_disk)  # space freed: the same command finishes the study
    r = _cli(argv)
    assert r.returncode == 0, r.stderr[-3000:]
    after = _trials(small_disk, "b2000")
    assert len([t for t in after if t.state in FINISHED]) == 6
    assert {n: after[n].values for n in done} == done  # nothing finished was lost
    assert not [t for t in after if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert (small_disk / "b2000" / "pareto.csv").is_file()


@pytest.mark.slow
def test_disk_full_with_jobs_is_one_line_from_the_parent(small_disk: Path, mnist_root: Path):
    r = _cli(_search_argv(small_disk, mnist_root, 8, "--jobs", "2"))
    assert r.returncode == 2
    line = _one_error_line(r)
    assert line.startswith("nas-mnist: error: "), line
    assert " of 2 workers failed; worker " in line
    assert " exited with 2: error: cannot write " in line
    assert f"cannot write {small_disk}/" in line, line
    trials = _trials(small_disk, "b2000")
    assert len([t for t in trials if t.state == TrialState.RUNNING]) <= 2
    for t in trials:  # a worker's trial left RUNNING is said so in that worker's line
        if t.state == TrialState.RUNNING:
            assert f"trial {t.number} left RUNNING" in r.stdout
        reason = t.user_attrs.get("fail_reason", "")
        if t.state == TrialState.FAIL and reason.startswith("stopped: "):
            assert [c for c in trials if c.system_attrs.get("failed_trial") == t.number]


@pytest.mark.slow
def test_refused_artifact_write_fails_the_trial_queues_it_and_rerun_resumes(
        tmp_path: Path, mnist_root: Path, monkeypatch, capsys):
    """Injected where no tmpfs can be mounted: the third artifact write (trial 1's weights) finds
    the disk full. The partial file is removed, so the storage still takes the settling writes."""
    calls: list[Path] = []
    real = faults.shutil.copyfileobj

    def copy(src, dst):
        calls.append(Path(dst.name))
        if len(calls) == 3:
            dst.write(b"half a file")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst)

    monkeypatch.setattr(faults, "shutil", SimpleNamespace(copyfileobj=copy))
    monkeypatch.setenv("NAS_MNIST_JOBS", "1")
    argv = _search_argv(tmp_path, mnist_root, 3, "--no-references")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"nas-mnist: error: cannot write {calls[2]}: No space left on device; "
                   "trial 1 marked FAIL and queued again; 1 of 3 trials finished; once it can be "
                   "written, rerun the same command to resume study 'b2000'")
    assert not calls[2].exists() and uuid.UUID(calls[2].name)  # the partial artifact is gone
    t = _trials(tmp_path, "b2000")
    assert [x.state for x in t] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.WAITING]
    assert t[1].user_attrs["fail_reason"] == (
        f"stopped: {calls[2]}: No space left on device; queued again for the next run")
    assert t[2].system_attrs["failed_trial"] == 1 and t[2].params == t[1].params

    monkeypatch.setattr(faults, "shutil", SimpleNamespace(copyfileobj=real))  # space freed
    assert main(argv) == 0
    t = _trials(tmp_path, "b2000")
    assert len([x for x in t if x.state in FINISHED]) == 3
    assert t[2].state in FINISHED and t[2].params == t[1].params  # the stopped trial, run again


# ---- 2. a damaged MNIST file ----------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory, mnist_root: Path) -> dict[str, Path]:
    """A two-trial study (two warm starts: different nets) and both trials exported."""
    root = tmp_path_factory.mktemp("exported")
    assert main(_search_argv(root, mnist_root, 2)) == 0
    out = {"root": root}
    for n in (0, 1):
        script = root / f"trial_{n}.py"
        assert main(["export", "--study", "b2000", "--study-dir", str(root), "--trial", str(n),
                     "-o", str(script)]) == 0
        out[f"script{n}"], out[f"weights{n}"] = script, script.with_suffix(".pt")
    return out


def _script(script: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(script), *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _damaged_root(tmp_path: Path, mnist_root: Path, which: str) -> tuple[Path, str]:
    """A data root whose training images are damaged the `which` way, and the expected words."""
    raw = tmp_path / "bad" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (mnist_root / "MNIST" / "raw").glob("*.gz"):
        shutil.copyfile(f, raw / f.name)
    gz = raw / "train-images-idx3-ubyte.gz"
    if which == "gz":
        gz.write_bytes(gz.read_bytes()[:1_000_000])
        md5 = hashlib.md5(gz.read_bytes()).hexdigest()
        return raw.parents[1], (
            f"MNIST file {gz} is damaged (truncated; md5 {md5} is not torchvision's "
            "f68b3c2dcbeaaa9fbdd348bbdeb94873); delete it to download it again, or copy a good "
            "one there")
    for f in raw.glob("*.gz"):  # unpacked, as a first load leaves them
        (raw / f.stem).write_bytes(gzip.decompress(f.read_bytes()))
    plain = raw / "train-images-idx3-ubyte"
    plain.write_bytes(plain.read_bytes()[:20_000_000])
    return raw.parents[1], (
        f"MNIST file {plain} is damaged (truncated: 20,000,000 of 47,040,016 bytes); delete it "
        "to unpack it again from its .gz (or download it), or copy a good one there")


@pytest.mark.slow
@pytest.mark.parametrize("which", ["gz", "unpacked"])
def test_damaged_mnist_file_is_named_by_search_and_by_the_exported_script(
        which, tmp_path: Path, mnist_root: Path, exported, monkeypatch, capsys):
    from torchvision.datasets import MNIST

    bad, words = _damaged_root(tmp_path, mnist_root, which)
    # a download would repair a damaged .gz where there is internet: make it fail at once here
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])
    studies = tmp_path / "studies"
    assert main(_search_argv(studies, bad, 2)) == 2
    assert capsys.readouterr().err.strip() == f"nas-mnist: error: {words}"
    assert not studies.exists()  # nothing written before the data is proven good

    r = _script(exported["script0"], "--train", "--epochs", "1", "--data-dir", str(bad),
                cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.strip() == f"error: {words}", r.stderr
    assert not list(tmp_path.glob("*.retrained.pt"))


@pytest.mark.slow  # the study of `exported` takes seconds to make
def test_full_disk_writing_the_outputs_is_one_line(exported, monkeypatch, capsys):
    import pandas as pd

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # no file name: pandas' own write

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    root = exported["root"]
    assert main(["pareto", "--study", "b2000", "--study-dir", str(root)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"nas-mnist: error: cannot write {root / 'b2000' / 'pareto.csv'}: No space left on device")


# ---- 3. the exported script given the wrong weights -----------------------------------------


@pytest.mark.slow
def test_exported_script_refuses_files_that_are_not_its_weights(exported, mnist_root: Path,
                                                                 tmp_path: Path):
    text = tmp_path / "bad.pt"
    text.write_text("not weights\n")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(exported["weights0"].read_bytes()[:500])
    data = ["--data-dir", str(mnist_root)]
    lines = {}
    for name, weights in (("text", text), ("cut", cut), ("other", exported["weights1"])):
        r = _script(exported["script0"], "--evaluate", str(weights), *data, cwd=tmp_path)
        assert r.returncode == 1, r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        lines[name] = r.stderr.strip()
    assert lines["text"] == (f"error: {text} is not a PyTorch weights file "
                             "(torch.load cannot read it)")
    assert lines["cut"] == (f"error: {cut} is not a PyTorch weights file (PytorchStreamReader "
                            "failed reading zip archive: failed finding central directory)")
    # trial 1's net (onepool@1.9k) is wider than trial 0's (onepool@0.9k): a shape differs
    other = lines["other"]
    assert other.startswith(f"error: {exported['weights1']} holds the weights of another net: ")
    assert " is [" in other and ", this net's is [" in other, other
    r = _script(exported["script0"], "--evaluate", str(exported["weights0"]), *data, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("test accuracy: "), r.stderr  # its own


# ---- 4. a second terminal on the same study -------------------------------------------------


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed")  # the other worker's ask
def test_a_trial_raced_past_the_target_waits_in_the_queue_not_failed(
        tmp_path: Path, mnist_root: Path, monkeypatch, capsys):
    real_ask = optuna.Study.ask
    other: list[optuna.Trial] = []

    def ask(study, *args, **kw):
        if not other and len(study.get_trials(states=FINISHED)) == 1:
            # a second terminal's worker asks for the last trial between our check and our ask,
            # and finishes it a moment later
            other.append(real_ask(study))
            threading.Timer(0.5, study.tell, (other[0], [50.0, 1000])).start()
        return real_ask(study, *args, **kw)

    monkeypatch.setattr(optuna.Study, "ask", ask)
    for k, v in FAST_BEAT.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("NAS_MNIST_JOBS", "1")
    argv = _search_argv(tmp_path, mnist_root, 2, "--no-references")
    assert main(argv) == 0
    assert "trial 2 not needed (the study reached its target): back in the queue" in (
        capsys.readouterr().out)
    t = _trials(tmp_path, "b2000")
    assert [x.state for x in t] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.WAITING]
    assert other[0].number == 1 and t[1].values == [50.0, 1000]
    assert t[2].datetime_start is None and not t[2].user_attrs and not t[2].params

    monkeypatch.setattr(optuna.Study, "ask", real_ask)
    assert main(_search_argv(tmp_path, mnist_root, 3, "--no-references")) == 0
    t = _trials(tmp_path, "b2000")
    assert len(t) == 3 and t[2].state in FINISHED  # the waiting trial ran; none was added
