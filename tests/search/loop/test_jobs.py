"""`nas-mnist search --jobs N`: worker processes sharing one study (search.loop.jobs)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

from search.cli import main
from search.config import SearchConfig
from search.errors import UserError
from search.loop.jobs import _worker_main, parse_devices, run_jobs
from search.loop.progress import PROGRESS_TAG

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _argv(root: Path, study_dir: Path, n: int, *extra: str, subset: int = 300) -> list[str]:
    return ["search", "--budget", "5000", "--n-trials", str(n), "--epochs", "1",
            "--train-subset", str(subset), "--val-size", "300", "--data-dir", str(root),
            "--study-dir", str(study_dir), "--study", "j", "--no-prune", "--quiet",
            "--device", "cpu", *extra]


def _study(study_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name="j", storage=f"sqlite:///{study_dir / 'j.db'}")


def _running(study_dir: Path) -> bool:
    try:
        return bool(_study(study_dir).get_trials(states=(TrialState.RUNNING,)))
    except KeyError:  # the parent has not created the study yet
        return False


@pytest.mark.slow
def test_two_jobs_finish_exactly_n_distinct_trials(mnist_root: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    assert main(_argv(mnist_root, tmp_path, 4, "--jobs", "2")) == 0
    out = capsys.readouterr().out
    study = _study(tmp_path)
    done = study.get_trials(states=FINISHED)
    numbers = [t.number for t in study.trials]
    assert len(done) == 4 and len(numbers) == len(set(numbers))
    # per-trial sampler seeds: workers sharing --seed still draw different nets
    assert len({json.dumps(t.params, sort_keys=True) for t in done}) == 4
    assert all(t.user_attrs["device"] == "cpu" for t in done)
    assert not study.get_trials(states=(TrialState.RUNNING,))
    # a trial raced past the target waits as it was queued, never started (test_surplus.py)
    assert all(t.datetime_start is None for t in study.get_trials(states=(TrialState.WAITING,)))
    assert "[w0] trial" in out and out.count("Pareto front of study 'j'") == 1  # one front
    assert PROGRESS_TAG not in out  # the workers' progress lines are the parent's, not shown
    assert (tmp_path / "j" / "pareto.csv").is_file()


@pytest.mark.slow
def test_parent_shows_each_workers_running_trial(mnist_root: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    argv = _argv(mnist_root, tmp_path, 2, "--jobs", "2", "--timeout", "600")
    argv.remove("--quiet")
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert PROGRESS_TAG not in out + err
    done = _study(tmp_path).get_trials(states=FINISHED)
    assert len(done) == 2
    for t in done:  # each trial's line under the study bar: worker, size, epoch, accuracy
        line = (rf"\[w[01]\] trial {t.number}: {t.user_attrs['params']:,} params epoch 1/1 \|"
                rf".*val_acc={t.user_attrs['val_acc'][-1]:.2f}%, {re.escape(t.user_attrs['arch'])}")
        assert re.search(line, err), line
    # before a trial finished the ETA is the time left to --timeout
    assert re.search(r"study j x2: +0%.* 0/2 \[00:0\d<(09:5\d|10:00) \(timeout\)", err)


@pytest.mark.slow
def test_ctrl_c_is_forwarded_then_resume_tops_up(mnist_root: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    # trials on 3000 images: long enough to be caught running
    argv = [sys.executable, "-m", "search.cli",
            # no warm starts: the queue then holds only the interrupted trials' retries
            *_argv(mnist_root, tmp_path, 3, "--jobs", "2", "--no-warm-start", "--no-references",
                   subset=3000)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if _running(tmp_path):
                break
            time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends the parent
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err + out
    study = _study(tmp_path)
    assert not study.get_trials(states=(TrialState.RUNNING,))  # every worker settled its trial
    fails = study.get_trials(states=(TrialState.FAIL,))
    assert fails and all("interrupted" in t.user_attrs["fail_reason"] for t in fails)
    finished = len(study.get_trials(states=FINISHED))
    # the front so far is written once the workers are settled (when a trial had finished)
    assert ("Pareto front of study 'j'" in out) == (finished > 0)
    assert (tmp_path / "j" / "pareto.csv").is_file() == (finished > 0)
    capsys.readouterr()

    assert main(_argv(mnist_root, tmp_path, 3, "--jobs", "2", "--no-warm-start", "--no-references",
                      subset=3000)) == 0
    assert capsys.readouterr().out.startswith(f"resuming study 'j': {finished} of 3 trials")
    study = _study(tmp_path)
    assert len(study.get_trials(states=FINISHED)) == 3
    assert not study.get_trials(states=(TrialState.RUNNING,))
    # a trial raced past the target waits as it was queued, never started (test_surplus.py)
    assert all(t.datetime_start is None for t in study.get_trials(states=(TrialState.WAITING,)))


def test_parse_devices() -> None:
    assert parse_devices("cpu, cpu") == ["cpu", "cpu"]
    for bad in ("", " , ", "tpu", "cpu,nope"):
        with pytest.raises(UserError):
            parse_devices(bad)


@pytest.mark.parametrize("extra", [["--devices", "cpu", "--device", "cpu"], ["--jobs", "0"],
                                   ["--devices", "tpu:0"]])
def test_bad_job_options_are_one_line_errors(extra: list[str], tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    argv = _argv(tmp_path, tmp_path, 2)
    argv.remove("--device")
    argv.remove("cpu")
    try:
        rc = main(argv + extra)
    except SystemExit as e:  # argparse's own usage errors
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "error:" in err
    assert not (tmp_path / "j.db").exists()  # nothing written


def test_worker_reports_errors_and_stats(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = SearchConfig(budget=10, study_dir=tmp_path, device="cpu").to_json()
    stats = tmp_path / "w0.json"
    assert _worker_main(["--stats", str(stats), json.dumps(spec)]) == 2
    assert "error: --budget 10" in capsys.readouterr().out
    s = json.loads(stats.read_text())
    assert s["max_rss_mb"] > 10 and s["cuda_peak_mb"] != s["cuda_peak_mb"]  # NaN on CPU


@pytest.mark.slow
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_jobs_on_cuda(mnist_root: Path, tmp_path: Path) -> None:
    a = SearchConfig(budget=5000, n_trials=3, epochs=1, study_name="j", study_dir=tmp_path,
                     data_dir=str(mnist_root), val_size=300, train_subset=300, prune=False,
                     quiet=True)
    run = run_jobs(a, 2, ["cuda:0"], echo=False)
    assert len(run.study.get_trials(states=FINISHED)) == 3
    assert all(t.user_attrs["device"] == "cuda:0" for t in run.study.get_trials(states=FINISHED))
    assert all(w.returncode == 0 and w.cuda_peak_mb > 0 for w in run.workers)
