"""`nas-mnist train`: one network from a reference, a config file or a trial; one-line errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

import search.training.data
from search.cli import main
from search.training.data import Split
from space import REFERENCES, REPORTED, Candidate, Conv, Head, NetConfig, TrainConfig, describe

SMALL = Candidate(
    NetConfig(convs=(Conv(out=6, pool=True), Conv(out=12)), head=Head(kind="gap_linear")),
    TrainConfig(epochs=3, batch_size=64, optimizer="adamw", lr=0.01, weight_decay=1e-4,
                schedule="none"),
)
QUICK = ["--epochs", "1", "--train-subset", "300", "--val-size", "200", "--device", "cpu"]


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One thread, and only the first 1,000 test images scored: all 10k cost tens of seconds on
    the shared 2-core machine. The real load_test still runs (and counts) underneath."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # set_cpu_threads() in the CLI leaves it alone
    real = search.training.data.load_test

    def first_1000(*args, **kwargs) -> Split:
        s = real(*args, **kwargs)
        return Split(s.x[:1000], s.y[:1000])

    monkeypatch.setattr(search.training.data, "load_test", first_1000)
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


def _accuracies(out: str) -> tuple[float, float]:
    val = re.search(r"validation accuracy: +([\d.]+)% \(final epoch", out)
    test = re.search(r"test accuracy: +([\d.]+)% \(final epoch", out)
    assert val and test, out
    return float(val.group(1)), float(test.group(1))


def test_list(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--list"]) == 0
    out = capsys.readouterr().out
    for name, cand in REFERENCES.items():
        (line,) = [ln for ln in out.splitlines() if ln.startswith(name + " ")]
        assert f"{REPORTED[name]:.2f}%" in line and f"{cand.train.epochs} epochs" in line
    assert "6,016" in out and "18,448" in out and "best epoch picked on the test set" in out


def _one_line_error(capsys: pytest.CaptureFixture, argv: list[str], match: str) -> None:
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse usage errors
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err, err


def test_errors(capsys: pytest.CaptureFixture, tmp_path: Path, finished_study) -> None:
    study_dir, name = finished_study
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"net": {"convs": []}}))
    invalid = tmp_path / "invalid.json"  # well-formed, but shrinks the map below 1x1
    invalid.write_text(Candidate(NetConfig(convs=(Conv(out=4),) * 14), TrainConfig()).to_json())
    sd = ["--study-dir", str(study_dir)]
    n = len(optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir}/{name}.db").trials)
    cases = [
        (["train", "--arch", "ref1"], "unknown arch 'ref1'; known: ref6016"),
        (["train", "--config", str(tmp_path / "none.json")], "cannot read config"),
        (["train", "--config", str(bad)], "is not JSON"),
        (["train", "--config", str(wrong)], "not a nas-mnist config"),
        (["train", "--config", str(invalid)], "below 1x1"),
        (["train", "--trial", "0"], "--trial needs --study"),
        (["train", "--arch", "ref6016", "--study", name], "--study is used only with --trial"),
        (["train", "--trial", "0", "--study", "nope", *sd], "no study named 'nope'"),
        (["train", "--trial", str(n + 5), "--study", name, *sd], f"has no trial {n + 5}"),
        (["train", "--arch", "ref6016", "--trial", "0"], "not allowed with"),
        (["train"], "one of the arguments"),
        (["train", "--arch", "ref6016", "--device", "tpu"], "device 'tpu'"),
    ]
    for argv, match in cases:
        _one_line_error(capsys, argv, match)


def test_train_a_config_file(tmp_path: Path, mnist_root: Path, capsys) -> None:
    cfg = tmp_path / "small.json"
    cfg.write_text(SMALL.to_json())
    loads = search.training.data.TEST_LOADS
    assert main(["train", "--config", str(cfg), "--data-dir", str(mnist_root), *QUICK]) == 0
    assert search.training.data.TEST_LOADS == loads + 1
    out = capsys.readouterr().out
    val, test = _accuracies(out)
    assert 20 < val <= 100 and 20 < test <= 100  # it learned something in one short epoch
    assert describe(SMALL.net) in out and "300 train / 200 validation" in out
    assert "(run for 1)" in out and "seed 0" in out


def test_train_a_trial(finished_study, mnist_root: Path, tmp_path: Path, capsys) -> None:
    study_dir, name = finished_study
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir}/{name}.db")
    t = next(t for t in study.get_trials() if t.state == TrialState.COMPLETE)
    argv = ["train", "--trial", str(t.number), "--study", name, "--study-dir", str(study_dir),
            "--data-dir", str(mnist_root), "--epochs", "1", "--device", "cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    _accuracies(out)
    assert f"trial {t.number} of study '{name}'" in out and t.user_attrs["arch"] in out
    # the trial's seed and the study's data split unless told otherwise
    assert f"seed {t.user_attrs['seed']}" in out and "1,000 train / 500 validation" in out

    # the stored config, written to a file, retrains the same net: any trial can be retrained
    cfg = tmp_path / "trial.json"
    cfg.write_text(json.dumps(t.user_attrs["config"]))
    assert main(["train", "--config", str(cfg), "--data-dir", str(mnist_root), *QUICK]) == 0
    assert t.user_attrs["arch"] in capsys.readouterr().out
