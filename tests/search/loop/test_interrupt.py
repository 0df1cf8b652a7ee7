"""search.loop.interrupt: where Ctrl-C may land; a trial interrupted anywhere is settled."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from optuna.samplers import TPESampler
from optuna.trial import TrialState

from search.config import SearchConfig
from search.loop.interrupt import Terminated, _defer, exit_status, interruptible, safe_interrupts
from search.loop.objective import INTERRUPTED
from search.loop.run import prepare_study, work


def _frame_in(module: str, inner=None):
    """The frame of a function defined in `module` (optionally calling `inner` first)."""
    ns = {"__name__": module, "sys": sys, "inner": inner}
    exec("def f():\n    return inner() if inner else sys._getframe()", ns)
    return ns["f"]


def test_library_code_defers_unless_an_interruptible_function_is_nearer():
    assert _defer(sys._getframe()) is False  # our own code, no library on the stack
    assert _defer(_frame_in("sqlalchemy.engine")()) is True
    assert _defer(_frame_in("optuna.study._optimize", _frame_in("search.loop.objective"))()) is True

    @interruptible
    def body():
        return _frame_in("torch.nn.modules")()  # training code, called by Optuna via body

    assert _defer(_frame_in("optuna.study._optimize", body)()) is False
    # a storage write made from the interruptible body still waits
    @interruptible
    def body_writing():
        return _frame_in("optuna.storages._rdb")()

    assert _defer(_frame_in("optuna.study._optimize", body_writing)()) is True


@pytest.mark.skipif(os.name != "posix", reason="sends itself a POSIX SIGTERM")
def test_sigterm_is_raised_where_ctrl_c_would_be():
    before = signal.getsignal(signal.SIGTERM)
    with safe_interrupts(), pytest.raises(Terminated):
        os.kill(os.getpid(), signal.SIGTERM)  # without the handler this test process would die
        time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) is before  # put back after the block
    assert isinstance(Terminated(), KeyboardInterrupt)  # every Ctrl-C handler settles it too
    assert (exit_status(Terminated()), exit_status(KeyboardInterrupt())) == (143, 130)


@pytest.mark.skipif(os.name != "posix", reason="sends itself a POSIX SIGINT")
def test_ctrl_c_while_optuna_creates_a_trial_still_settles_it(monkeypatch, tmp_path: Path,
                                                               mnist_root: Path, tiny_data):
    # The window CI hit: Ctrl-C while study.ask() runs the sampler. The new trial is RUNNING in the
    # storage, yet no code of ours knows its number; delivered there, it was left RUNNING.
    a = SearchConfig(budget=2000, n_trials=3, epochs=1, study_name="intr", study_dir=tmp_path,
                     data_dir=str(mnist_root), device="cpu", val_size=500, train_subset=1000,
                     quiet=True, warm_start=False, references=False)
    study = prepare_study(a, tiny_data)
    real = TPESampler.before_trial

    def slow_ask(self, study, trial):  # runs inside study.ask(), after the trial was created
        if trial.number == 1:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)  # the signal arrives in here
        return real(self, study, trial)

    monkeypatch.setattr(TPESampler, "before_trial", slow_ask)
    with pytest.raises(SystemExit) as e:
        work(a, study, tiny_data)
    assert e.value.code == 130
    t = {x.number: x for x in study.get_trials()}
    assert t[0].state == TrialState.COMPLETE
    assert t[1].state == TrialState.FAIL and t[1].user_attrs["fail_reason"] == INTERRUPTED
    assert not study.get_trials(states=(TrialState.RUNNING,))
    queued = study.get_trials(states=(TrialState.WAITING,))
    assert [q.system_attrs["failed_trial"] for q in queued] == [1]  # the next run starts with it
