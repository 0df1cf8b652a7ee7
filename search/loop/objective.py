"""The Optuna objective: sample a candidate, train it, prune it, keep what made the result.

Everything that touches the trial is here; the trainer gets only a per-epoch callback. Faults stay
inside their trial: a non-finite loss (a diverging learning rate) ends it PRUNED with
``stop_reason``; CUDA out-of-memory and any other error end it FAIL with ``fail_reason``, after the
trial's memory is released, and the study goes on. A write the machine refused (disk full) is not
the trial's fault: it raises :class:`StopRun`, and the loop stops the run.
"""

from __future__ import annotations

import gc
import json
import math
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.artifacts import upload_artifact
from optuna.trial import TrialState

from search.loop.interrupt import interruptible
from search.loop.pruner import ParetoPruner
from search.store.curves import record_curve
from search.store.faults import WriteFault, as_write_fault, writing
from search.training.data import MnistData
from search.training.device import versions
from search.training.train import EpochStats, train
from space import REFERENCES, Candidate, build, count_params, describe, sample

__all__ = ["INTERRUPTED", "Objective", "StopRun", "Surplus", "TrialFault", "stopped_by"]

INTERRUPTED = "interrupted (Ctrl-C); queued again for the next run"
# Cross-entropy over 10 classes starts near ln 10 = 2.3; a mean epoch loss beyond this means the
# learning rate blew the weights up (BatchNorm can keep such a run finite but useless).
DIVERGED_LOSS = 100.0


def stopped_by(fault: WriteFault) -> str:
    """The fail_reason of a trial that a refused write stopped; queued again like a Ctrl-C'd one."""
    return f"stopped: {fault.path}: {fault.cause}; queued again for the next run"


class Surplus(BaseException):
    """This trial was asked for after the study reached its target (two workers raced past the
    loop's check). Nothing failed, so it must not end FAIL, and Optuna cannot delete a trial: it
    goes back in the queue untouched (search.store.study.unstart), for a run with a higher target.
    Not an Exception, so that it passes Optuna's ``catch``, which would record the trial FAIL."""

    def __init__(self, trial: optuna.Trial, target: int) -> None:
        super().__init__(f"trial {trial.number} not needed: target {target} reached")
        self.number, self.trial_id = trial.number, trial._trial_id


class StopRun(BaseException):
    """A write the machine refused (disk full) ends the run, not just the trial. Not an Exception,
    so that it passes Optuna's ``catch``, which would record the trial FAIL before it could be
    queued again: the loop settles the still RUNNING trial itself (search.loop.worker)."""

    def __init__(self, fault: WriteFault) -> None:
        super().__init__(str(fault))
        self.fault = fault


class TrialFault(Exception):
    """A trial failed for a reason already recorded in its ``fail_reason`` user attr."""


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())  # CUDA messages span lines; a user attr should not
    return f"{type(e).__name__}: {text}"[:500]


@dataclass
class Objective:
    budget: int  # params
    epochs: int  # per trial
    seed: int  # study seed; trial k trains with seed + k
    data: MnistData
    target: int  # finished (complete + pruned) trials the study should end with
    pruner: ParetoPruner
    store: Any = None  # optuna artifact store for weights, or None
    progress: bool = False  # epoch bar
    last_number: int | None = None  # number of the trial this process ran last

    def __call__(self, trial: optuna.Trial) -> tuple[float, int]:
        self.last_number = trial.number
        try:
            return self._run(trial)
        except (optuna.TrialPruned, Surplus, TrialFault):
            raise  # their reason is already in the trial's user attrs
        except KeyboardInterrupt:
            # without safe_interrupts Ctrl-C may land inside a storage write: drop that half-done
            # transaction (and the SQLite lock it holds, which would stall the heartbeat thread)
            trial.study._storage.remove_session()
            trial.set_user_attr("fail_reason", INTERRUPTED)
            raise
        except Exception as e:
            fault = as_write_fault(e, storage=trial.study._storage)
            if fault is not None:
                raise StopRun(fault) from None
            trial.set_user_attr("fail_reason", _one_line(e))
            raise

    @interruptible  # Ctrl-C lands here at once; __call__ records it (search.loop.interrupt)
    def _run(self, trial: optuna.Trial) -> tuple[float, int]:
        self._check_surplus(trial)
        ref = trial.user_attrs.get("reference")
        # references and warm starts are trained to the end: the table compares with the one, and
        # the other is the front's anchor (seed 1 of bench-front-moasha cut onepool@9.9k at epoch
        # 3, 97.93 % val; seed 0 trained it to 99.20 %, the best net of its front)
        whole = bool(ref or trial.user_attrs.get("warm_start"))
        if ref:  # a reference net with its own recipe, at the study's epochs
            cand = REFERENCES[ref]
            cand = replace(cand, train=replace(cand.train, epochs=self.epochs))
        else:
            cand = sample(trial, self.budget, self.epochs)
        n = count_params(cand.net)
        seed = self.seed + trial.number
        attrs = {
            "config": cand.to_dict(), "params": n, "arch": describe(cand.net), "seed": seed,
            "epochs": self.epochs, "device": str(self.data.device), "versions": versions(),
            "val_acc": [], "val_loss": [], "epoch_s": [],
        }
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        curve: dict[str, list[Any]] = {"val_acc": [], "val_loss": [], "epoch_s": []}  # NaN->None

        def on_epoch(s: EpochStats) -> str | None:
            curve["val_acc"].append(round(100 * s.val_acc, 4))
            curve["val_loss"].append(s.val_loss if math.isfinite(s.val_loss) else None)
            curve["epoch_s"].append(round(s.seconds, 3))
            for k, v in curve.items():
                trial.set_user_attr(k, v)
            if s.train_loss > DIVERGED_LOSS:  # (train() itself stops on a non-finite loss)
                return f"diverged: training loss {s.train_loss:.3g} at epoch {s.epoch}"
            if whole:
                return None
            return self.pruner.check(trial.study, trial.number, n, curve["val_acc"], self.epochs,
                                     trial.user_attrs.get("neighbour_of"))

        torch.manual_seed(seed)  # initial weights depend on the trial's seed alone (retrainable)
        model = build(cand.net)
        oom = None
        try:
            hist = train(model, cand.train, self.data, seed=seed, on_epoch=on_epoch,
                         progress=self.progress)
        except torch.cuda.OutOfMemoryError as e:
            oom = _one_line(e)  # handled below, once the traceback (and its tensors) is gone
        if oom is not None:
            del model
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            trial.set_user_attr("fail_reason", f"CUDA out of memory: {oom}")
            raise TrialFault(f"CUDA out of memory in trial {trial.number}")
        # the curve as intermediate values, pruned trials too (search.store.curves)
        record_curve(trial, curve["val_acc"])
        if hist.stopped:
            trial.set_user_attr("stop_reason", hist.stopped)
            raise optuna.TrialPruned(hist.stopped)
        acc = curve["val_acc"][-1]
        if not math.isfinite(acc):
            trial.set_user_attr("stop_reason", "non-finite validation accuracy")
            raise optuna.TrialPruned("non-finite validation accuracy")
        if self.store is not None:
            self._save(trial, model, cand)
        return acc, n

    def _check_surplus(self, trial: optuna.Trial) -> None:
        # With several workers, two may ask for a trial at once near the end; trial numbers are
        # handed out in order, so the later one sees the earlier and stands down. WAITING counts:
        # a queued trial with a lower number (a retry, a reference) is popped before any new one.
        # Nothing is written to the trial before this check: put back, it is as it was queued.
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
        before = [t for t in trial.study.get_trials(deepcopy=False, states=states)
                  if t.number < trial.number]
        if len(before) >= self.target:
            raise Surplus(trial, self.target)

    def _save(self, trial: optuna.Trial, model: torch.nn.Module, cand: Candidate) -> None:
        with tempfile.TemporaryDirectory() as tmp, writing(tmp, trial.study._storage):
            w = Path(tmp) / f"trial_{trial.number}.pt"
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, w)
            c = Path(tmp) / f"trial_{trial.number}.json"
            c.write_text(json.dumps(cand.to_dict(), indent=2))
            for key, path, mime in (("weights", w, "application/octet-stream"),
                                    ("config_file", c, "application/json")):
                aid = upload_artifact(artifact_store=self.store, file_path=str(path),
                                      study_or_trial=trial, mimetype=mime)
                trial.set_user_attr(f"{key}_artifact", aid)
