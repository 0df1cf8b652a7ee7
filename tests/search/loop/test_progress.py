"""What a search shows while it runs (search.loop.progress): the timeout-bounded ETA, the
workers' relayed progress and the board that draws it."""

from __future__ import annotations

import math
import re

import optuna
import pytest

from search.loop.progress import (
    PROGRESS_TAG,
    Relay,
    StudyBar,
    TrialProgress,
    WorkerBoard,
    eta,
    eta_text,
)


def test_eta_is_the_sooner_of_the_rate_and_the_timeout() -> None:
    assert eta(100.0, 0, 10, None) == (None, False)  # nothing finished, no timeout: unknown
    assert eta(100.0, 2, 8, None) == (400.0, False)  # 50 s a trial
    assert eta(100.0, 0, 10, 1700.0) == (1700.0, True)  # no rate yet: the timeout bounds it
    assert eta(100.0, 2, 8, 300.0) == (300.0, True)  # the timeout comes first
    assert eta(100.0, 2, 8, 500.0) == (400.0, False)  # the trials end first
    assert eta(2000.0, 2, 8, -200.0) == (0.0, True)  # past the timeout: running trials finish


def test_eta_text() -> None:
    assert eta_text(217.0, 0, 100, None) == "?"
    # the reported case: 3:37 in, nothing finished yet, --timeout 1800
    assert eta_text(217.0, 0, 100, 1800.0 - 217.0) == "26:23 (timeout)"
    assert eta_text(600.0, 4, 96, 1200.0) == "20:00 (timeout)"  # the rate says 4 hours
    assert eta_text(600.0, 60, 40, 1200.0) == "06:40"


def test_study_bar_shows_the_timeout_bound(capsys: pytest.CaptureFixture) -> None:
    bar = StudyBar(total=100, desc="study b10000 x2", unit="trial", timeout=1800)
    bar.close()
    assert re.search(r"0/100 \[00:00<(29:59|30:00) \(timeout\)", capsys.readouterr().err)
    bar = StudyBar(total=100, desc="study b10000", unit="trial")  # no timeout: tqdm's own
    bar.close()
    assert "0/100 [00:00<?," in capsys.readouterr().err


def test_relay_prints_each_change_of_the_running_trial(capsys: pytest.CaptureFixture) -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])

    def objective(trial):  # what Objective does to its trial, in the same order
        trial.set_user_attr("params", 1234)
        trial.set_user_attr("arch", "c4 c8 gap")
        trial.set_user_attr("epochs", 2)
        trial.set_user_attr("val_acc", [])
        trial.set_user_attr("val_acc", [92.734])
        trial.set_user_attr("val_acc", [92.734, float("nan")])
        return 97.5, 1234

    study.optimize(Relay(objective, 2), n_trials=1)
    lines = capsys.readouterr().out.splitlines()
    assert all(ln.startswith(PROGRESS_TAG) for ln in lines)
    seen = [TrialProgress.from_line(ln) for ln in lines]
    start = TrialProgress(0, params=1234, arch="c4 c8 gap", epochs=2)
    assert seen[:2] == [start, TrialProgress(0, 1234, "c4 c8 gap", 2, epoch=1, val_acc=92.734)]
    assert seen[2].epoch == 2 and math.isnan(seen[2].val_acc)  # a diverged epoch
    assert not seen[3].running and len(seen) == 4  # no line for unchanged attrs
    assert TrialProgress.from_line("trial 0 complete params=1,234") is None
    assert TrialProgress.from_line(PROGRESS_TAG + "{not json") is None

    def stands_down(trial):  # a surplus trial ends before it sets any attr
        raise optuna.TrialPruned

    study.optimize(Relay(stands_down, 2), n_trials=1)
    assert capsys.readouterr().out == ""  # never shown, so no end either


def test_board_keeps_a_line_per_worker(capsys: pytest.CaptureFixture) -> None:
    board = WorkerBoard(2)
    board.show(1, TrialProgress(7, params=9874, arch="c8 c16 P", epochs=15))
    board.show(1, TrialProgress(7, params=9874, arch="c8 c16 P", epochs=15, epoch=3,
                                val_acc=97.8125))
    board.show(0, TrialProgress(8, params=512, arch="c4", epochs=15, running=False))
    board.close()
    board.show(1, TrialProgress(9, params=1, arch="c1", epochs=15))  # closed: drawn no more
    err = capsys.readouterr().err
    assert "[w0] starting" in err and "[w1] trial 7: 9,874 params epoch 0/15 |" in err
    assert "[w1] trial 7: 9,874 params epoch 3/15 |" in err and "val_acc=97.81%, c8 c16 P" in err
    assert "[w0] trial 8 ended" in err and "trial 9" not in err
    quiet = WorkerBoard(2, disable=True)
    quiet.show(0, TrialProgress(1, params=5, arch="c1", epochs=1))
    quiet.close()
    assert capsys.readouterr().err == ""
