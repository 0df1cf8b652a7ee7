"""What a search shows while it runs: the study bar (its ETA bounded by ``--timeout``), the
running trials' epoch bars, and one line per finished trial.

In one process :class:`EpochBar` draws the running trial's bar. With ``--jobs`` each worker runs
its trials under :class:`Relay`, which prints the same progress as tagged lines on the worker's
stdout; the parent hands them to :class:`WorkerBoard`, which keeps one line per worker.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import optuna
from tqdm.auto import tqdm

__all__ = ["PROGRESS_TAG", "EpochBar", "Relay", "StudyBar", "TrialProgress", "WorkerBoard",
           "eta", "eta_text", "trial_line"]

Objective = Callable[[optuna.Trial], tuple[float, int]]

PROGRESS_TAG = "@nas-mnist-progress "  # starts a worker's progress line (never shown as such)
# the arch goes last: a narrow terminal cuts it, not the epoch or the accuracy
_EPOCHS = "{desc} epoch {n_fmt}/{total_fmt} |{bar:12}| {elapsed}<{remaining}{postfix}"
_STUDY = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{bounded_eta}, {rate_fmt}{postfix}]"


@dataclass(frozen=True)
class TrialProgress:
    """Where a running trial stands, as its user attrs tell it; ``val_acc`` is in %."""

    number: int
    params: int | None = None
    arch: str | None = None
    epochs: int | None = None
    epoch: int = 0  # epochs finished
    val_acc: float | None = None  # after the last finished epoch
    running: bool = True

    def label(self) -> str:
        size = f"{self.params:,}" if self.params is not None else "?"
        return f"trial {self.number}: {size} params"

    def follow(self, key: str, value: object) -> TrialProgress:
        """The progress after the trial set user attr ``key`` to ``value``."""
        if key == "params" and isinstance(value, int):
            return dataclasses.replace(self, params=value)
        if key == "arch" and isinstance(value, str):
            return dataclasses.replace(self, arch=value)
        if key == "epochs" and isinstance(value, int):
            return dataclasses.replace(self, epochs=value)
        if key == "val_acc" and isinstance(value, list) and value:  # empty before epoch 1 ends
            last = value[-1]
            return dataclasses.replace(self, epoch=len(value),
                                       val_acc=float(last) if last is not None else math.nan)
        return self

    def to_line(self) -> str:
        return PROGRESS_TAG + json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_line(cls, line: str) -> TrialProgress | None:
        """The progress a worker relayed in ``line``; None for any other line."""
        if not line.startswith(PROGRESS_TAG):
            return None
        try:
            return cls(**json.loads(line[len(PROGRESS_TAG):]))
        except (ValueError, TypeError):
            return None


class _Follow:
    """Runs the objective while following the trial's own user attr writes: params and arch
    before training, the val_acc curve after each epoch. Neither the objective nor the trainer
    offers a hook; these writes are the trial's record of progress."""

    def __init__(self, objective: Objective, epochs: int):
        self.objective, self.epochs = objective, epochs

    def __call__(self, trial: optuna.Trial) -> tuple[float, int]:
        state = TrialProgress(trial.number, epochs=self.epochs)
        write = trial.set_user_attr

        def set_user_attr(key: str, value: object) -> None:
            nonlocal state
            write(key, value)
            new = state.follow(key, value)
            if new != state and new.arch is not None:  # arch comes right after params
                self.show(new)
            state = new

        trial.set_user_attr = set_user_attr  # type: ignore[method-assign]
        try:
            return self.objective(trial)
        finally:
            self.end(state)

    def show(self, p: TrialProgress) -> None:
        raise NotImplementedError

    def end(self, p: TrialProgress) -> None:
        raise NotImplementedError


class EpochBar(_Follow):
    """The running trial's epoch bar, named by its number, size and architecture, with the
    validation accuracy (%) of the last finished epoch."""

    bar: tqdm | None = None

    def show(self, p: TrialProgress) -> None:
        if self.bar is None:
            self.bar = tqdm(total=p.epochs, desc=f"{p.label()}, {p.arch}", unit="epoch",
                            leave=False, dynamic_ncols=True)
        if p.epoch:
            self.bar.n = p.epoch
            self.bar.set_postfix_str(f"val_acc={p.val_acc:.2f}%")

    def end(self, p: TrialProgress) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Relay(_Follow):
    """A ``--jobs`` worker's running trial, printed as a tagged line for the parent per change."""

    def show(self, p: TrialProgress) -> None:
        print(p.to_line(), flush=True)

    def end(self, p: TrialProgress) -> None:
        if p.arch is not None:  # a trial that stood down before it began was never shown
            print(dataclasses.replace(p, running=False).to_line(), flush=True)


class WorkerBoard:
    """One line per worker below the study bar (tqdm ``position``): its running trial's number,
    size, epoch k/E and last validation accuracy, redrawn as each relayed change arrives (once
    per epoch at most). Safe to call from the threads reading the workers' output: each worker's
    line is drawn under tqdm's own lock, which its ``write`` takes too."""

    def __init__(self, workers: int, *, disable: bool = False):
        self.bars = [tqdm(total=1, position=i + 1, desc=f"[w{i}] starting", bar_format="{desc}",
                          leave=False, disable=disable, dynamic_ncols=True)
                     for i in range(workers)]
        self.running: list[int | None] = [None] * workers

    def show(self, worker: int, p: TrialProgress) -> None:
        bar = self.bars[worker]
        with tqdm.get_lock():
            if bar.disable:  # closed, or quiet
                return
            if not p.running:
                self.running[worker] = None
                bar.bar_format = "{desc}"
                bar.set_description_str(f"[w{worker}] trial {p.number} ended; no trial running")
                return
            bar.desc = f"[w{worker}] {p.label()}"
            if self.running[worker] != p.number:  # a new trial: its own clock and total
                self.running[worker] = p.number
                bar.bar_format = _EPOCHS
                bar.postfix = ""
                bar.reset(total=p.epochs)
            bar.n = p.epoch
            acc = f"val_acc={p.val_acc:.2f}%, " if p.val_acc is not None else ""
            bar.set_postfix_str(f"{acc}{p.arch}")  # draws the line

    def close(self) -> None:
        with tqdm.get_lock():
            for bar in self.bars:
                bar.close()


def eta(elapsed: float, done: int, todo: int, time_left: float | None
        ) -> tuple[float | None, bool]:
    """(seconds until the study ends, whether ``--timeout`` bounds it): the sooner of the rate's
    estimate (``done`` trials finished in ``elapsed`` s, ``todo`` to go) and ``time_left`` to the
    timeout; None while neither is known. Trials running at the timeout still finish after it."""
    by_rate = elapsed / done * todo if done > 0 else None
    if time_left is None:
        return by_rate, False
    left = max(0.0, time_left)
    if by_rate is None or left < by_rate:
        return left, True
    return by_rate, False


def eta_text(elapsed: float, done: int, todo: int, time_left: float | None) -> str:
    s, bounded = eta(elapsed, done, todo, time_left)
    if s is None:
        return "?"
    return tqdm.format_interval(s) + (" (timeout)" if bounded else "")


class StudyBar(tqdm):
    """The study's trial bar; with ``timeout`` (s from the bar's start) its ETA is
    :func:`eta`'s, marked ``(timeout)`` when the timeout comes first."""

    def __init__(self, *args: object, timeout: float | None = None, **kwargs: object):
        # before tqdm's __init__, whose first draw reads them
        self.timeout, self.started = timeout, time.monotonic()
        kwargs.setdefault("bar_format", _STUDY)
        super().__init__(*args, **kwargs)

    @property
    def format_dict(self) -> dict:
        d = super().format_dict
        if d.get("total") is not None:  # (a disabled bar's dict may lack the counts)
            left = None if self.timeout is None else self.started + self.timeout - time.monotonic()
            d["bounded_eta"] = eta_text(d["elapsed"], d["n"] - d["initial"], d["total"] - d["n"],
                                        left)
        return d


def trial_line(t: optuna.trial.FrozenTrial) -> str:
    """One line per finished trial; a pruned or failed one shows its last epoch's accuracy."""
    why = t.user_attrs.get("fail_reason") or t.user_attrs.get("stop_reason")
    params = t.user_attrs.get("params")
    size = f"params={params:,}" if isinstance(params, int) else "params=?"
    curve = [v for v in t.user_attrs.get("val_acc") or [] if v is not None]
    if t.values:
        acc = f"val_acc={t.values[0]:.2f}%"
    elif curve:
        acc = f"val_acc={curve[-1]:.2f}% at epoch {len(curve)}/{t.user_attrs.get('epochs', '?')}"
    else:
        acc = "no epoch finished"
    arch = t.user_attrs.get("arch")
    near = t.user_attrs.get("neighbour_of")  # a local move from that trial (loop.neighbours)
    return (f"trial {t.number} {t.state.name.lower()} {size} {acc}" + (f" {arch}" if arch else "")
            + (f" [near trial {near}]" if near is not None else "") + (f" ({why})" if why else ""))
