"""`nas-mnist dashboard`: a real optuna-dashboard server on a finished study, queried over HTTP."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.error import URLError

import optuna
import pytest
from optuna.artifacts.exceptions import ArtifactNotFound

from search.cli import build_parser, main
from search.results.dashboard import METRIC_NAMES, StudyFolders
from search.results.pareto import front_trials

WAIT_S = 60  # seconds for the server to answer: imports are slow on a busy machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def _wait_for(proc: subprocess.Popen, url: str) -> dict:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dashboard exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            return json.loads(_get(url))
        except (URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    pytest.fail(f"dashboard did not answer {url} within {WAIT_S} s")


def _ignore_sigint() -> None:
    # as a background job or nohup starts it: the server must stop on Ctrl-C all the same, and the
    # test no longer depends on how pytest itself was started
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start(study_dir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    argv = [sys.executable, "-m", "search.cli", "dashboard", "--study-dir", str(study_dir),
            "--port", str(port)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ignore_sigint)
    return proc, f"http://127.0.0.1:{port}"


@pytest.mark.slow
def test_dashboard_serves_trials_and_artifacts(study_copy):
    study_dir, name = study_copy
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir / f'{name}.db'}")
    front = front_trials(study)
    exported = front[0]
    assert main(["export", "--study", name, "--study-dir", str(study_dir),
                 "--trial", str(exported.number)]) == 0
    script = study_dir / name / "export" / f"trial_{exported.number}.py"

    proc, base = _start(study_dir)
    try:
        summaries = _wait_for(proc, f"{base}/api/studies")["study_summaries"]
        assert [s["study_name"] for s in summaries] == [name]
        sid = summaries[0]["study_id"]
        detail = json.loads(_get(f"{base}/api/studies/{sid}"))
        trials = {t["number"]: t for t in detail["trials"]}
        assert sorted(trials) == [t.number for t in study.trials]
        assert sorted(t["number"] for t in detail["best_trials"]) == sorted(
            t.number for t in front)
        assert detail["objective_names"] == METRIC_NAMES
        for t in study.trials:  # the table's at-a-glance summary: arch and params
            if not t.state.is_finished():  # warm starts queued beyond the target never ran
                continue
            keys = {a["key"] for a in trials[t.number]["user_attrs"]}
            assert {"arch", "params", "config", "val_acc"} <= keys

        served = trials[exported.number]
        files = {a["filename"]: a["artifact_id"] for a in served["artifacts"]}
        assert {f"trial_{exported.number}.py", f"trial_{exported.number}.pt"} <= set(files)
        url = f"{base}/artifacts/{sid}/{served['trial_id']}/{files[script.name]}"
        assert _get(url) == script.read_bytes()
        weights = _get(f"{base}/artifacts/{sid}/{served['trial_id']}/"
                       f"{files[f'trial_{exported.number}.pt']}")
        assert len(weights) > 1000
        assert b"<html" in _get(f"{base}/dashboard").lower()
        # optuna-dashboard 0.21 routes /trialTable to an empty page; the table is in smartSelection
        with urllib.request.urlopen(f"{base}/dashboard/studies/{sid}/trialTable") as r:
            assert r.url == f"{base}/dashboard/studies/{sid}/smartSelection" and r.status == 200

        proc.send_signal(signal.SIGINT)  # Ctrl-C stops it cleanly, though SIGINT was ignored
        assert proc.wait(timeout=20) == 0
        assert "127.0.0.1" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_binds_localhost_by_default():
    args = build_parser().parse_args(["dashboard"])
    assert (args.host, args.port) == ("127.0.0.1", 8080)


def _one_line_error(capsys, argv: list[str], match: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and match in err, err


def test_which_study_is_served(tmp_path, capsys):
    d = tmp_path / "studies"
    d.mkdir()
    _one_line_error(capsys, ["dashboard", "--study-dir", str(d)], "no studies in")
    for n in ("a", "b"):
        optuna.create_study(study_name=n, storage=f"sqlite:///{d / f'{n}.db'}")
    _one_line_error(capsys, ["dashboard", "--study-dir", str(d)], "pass --study NAME")
    _one_line_error(capsys, ["dashboard", "--study-dir", str(d), "--study", "c"],
                    "no study named 'c'")


@pytest.mark.timeout(60)
def test_port_in_use_is_one_line(study_copy, capsys):
    study_dir, _ = study_copy
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        _one_line_error(capsys, ["dashboard", "--study-dir", str(study_dir), "--port", str(port)],
                        "cannot listen")


def test_study_folders_store(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    b.mkdir()
    (b / "1234").write_bytes(b"weights")
    store = StudyFolders([a, b])
    with store.open_reader("1234") as f:
        assert f.read() == b"weights"
    with pytest.raises(ArtifactNotFound):
        store.open_reader("5678")
    store.remove("1234")
    assert not (b / "1234").exists()
    with pytest.raises(ArtifactNotFound):
        store.remove("1234")


@pytest.mark.slow
def test_sigterm_stops_it(study_copy):
    proc, base = _start(study_copy[0])
    try:
        _wait_for(proc, f"{base}/api/studies")
        proc.terminate()
        assert proc.wait(timeout=20) == 0
        assert "dashboard stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
