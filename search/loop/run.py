"""`nas-mnist search`: prepare a shared, resumable study, then run one worker's loop over trials.

``--n-trials`` is the study's total target of finished (complete + pruned) trials, over all runs
and workers: rerunning the same command after a crash or Ctrl-C tops the study up to it, and a
worker that finds the remaining trials running elsewhere waits for them (taking one over if its
worker dies) instead of starting extra ones.

``prepare_study`` validates everything and opens/creates the study (nothing is written before
validation passes; a new study gets what it starts with queued: loop.starts); ``work`` is one
worker's loop; ``run_search`` is both plus the front. Worker processes of ``--jobs``: loop.jobs.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import optuna
import torch
from optuna.storages import fail_stale_trials
from optuna.trial import TrialState
from tqdm.auto import tqdm

from search.config import RECIPES, SearchConfig
from search.errors import UserError
from search.loop.interrupt import exit_status, leave_at_once, safe_interrupts
from search.loop.neighbours import queue_neighbour
from search.loop.objective import Objective, StopRun, Surplus
from search.loop.progress import EpochBar, StudyBar, trial_line
from search.loop.pruner import ParetoPruner
from search.loop.settle import settle_fault, settle_interrupted, trial_of
from search.loop.starts import (
    fixed_draws,
    fixed_net,
    queue_fixed_net,
    queue_references,
    queue_transfers,
    queue_warm_starts,
    size_floor,
    transfers,
)
from search.loop.summary import announce, finish, stopped_line
from search.results.pareto import front_trials
from search.store.faults import WriteFault, as_write_fault, writing
from search.store.study import (
    StudyPaths,
    check_study_name,
    check_writable,
    n_finished,
    open_storage,
    open_study,
    unstart,
)
from search.training.data import MnistData, load_mnist
from search.training.device import resolve_device
from space import smallest_budget

__all__ = ["load_data", "prepare_study", "run_search", "validate", "work"]

MAX_FAILS_IN_A_ROW = 3  # trials; a systematic error should stop the run, not burn the budget
MAX_POLL_S = 5  # seconds between looks at the study while waiting for other workers' trials
# wraps (objective, epochs) to show the running trial: progress.EpochBar or progress.Relay
Watch = Callable[[Objective, int], Callable[[optuna.Trial], tuple[float, int]]]


def validate(a: SearchConfig) -> torch.device:
    """Refuse bad settings before anything is written; returns the training device."""
    if a.budget < smallest_budget():
        raise UserError(f"--budget {a.budget} is below the smallest net of the space "
                        f"({smallest_budget()} params)")
    if a.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {a.epochs}")
    if a.n_trials < 1:
        raise UserError(f"--n-trials must be >= 1, got {a.n_trials}")
    if not 0 < a.val_size < 60_000:
        raise UserError(f"--val-size must be in (0, 60000), got {a.val_size}")
    if a.train_subset is not None and a.train_subset < 1:
        raise UserError(f"--train-subset must be >= 1, got {a.train_subset}")
    if a.timeout is not None and not a.timeout > 0:
        raise UserError(f"--timeout must be > 0 seconds, got {a.timeout}")
    if not 0 <= a.neighbours <= 1:
        raise UserError(f"--neighbours must be in [0, 1], got {a.neighbours}")
    if a.min_params is not None and not 0 <= a.min_params < a.budget:
        raise UserError(f"--min-params must be in [0, budget {a.budget}), got {a.min_params}")
    if a.recipe not in RECIPES:
        raise UserError(f"--recipe must be one of {', '.join(RECIPES)}, got {a.recipe!r}")
    if a.net_from is not None and (a.warm_from or a.references or a.recipe != "drawn"):
        raise UserError("--net-from searches the recipe of one net: use it without --warm-from, "
                        "--references and --recipe fast")
    check_study_name(a.name)
    device = resolve_device(a.device)
    check_writable(Path(a.study_dir))
    return device


def load_data(a: SearchConfig, device: torch.device) -> MnistData:
    return load_mnist(a.data_dir, device=device, val_size=a.val_size, subset=a.train_subset)


def prepare_study(a: SearchConfig, data: MnistData | None = None) -> optuna.Study:
    """Validate, open the storage, create or load the study; a new study gets its warm starts
    and references once. Safe to call from every worker at once. Without `data`, MNIST is loaded
    once on the CPU just to prove it is there before the storage is touched."""
    validate(a)
    if data is None:
        load_data(a, torch.device("cpu"))
    found = transfers(a)  # the earlier studies exist and are read before anything is written
    net = fixed_net(a)
    storage = open_storage(a.storage_url)

    def on_create(study: optuna.Study) -> None:  # warm starts first: small nets, a front soon
        if net is not None:  # one net, its own recipe first: nothing else to start with
            queue_fixed_net(study, net)
        elif a.warm_start:
            queue_warm_starts(study, a.budget, a.warm_plan)
        queue_transfers(study, found)
        if a.references:
            queue_references(study, a.budget)

    with writing(storage=storage):  # a full disk: one line naming the database
        return open_study(storage, a.name, seed=a.seed, settings=a.settings(),
                          sampler_kind=a.sampler, startup_trials=a.startup_trials,
                          on_create=on_create, fixed=fixed_draws(a, net),
                          min_params=size_floor(a))


def work(a: SearchConfig, study: optuna.Study, data: MnistData | None = None, *,
         watch: Watch | None = None) -> None:
    """One worker: run trials until the study holds `a.n_trials` finished ones (or the timeout).
    ``watch`` wraps the objective to show the running trial (default: the epoch bar, unless
    quiet); a ``--jobs`` worker relays it to its parent instead."""
    device = validate(a)
    if data is None:
        data = load_data(a, device)
    pruner = ParetoPruner.of(a)
    obj = Objective(  # no trainer bar: EpochBar draws one that names the trial
        budget=a.budget, epochs=a.epochs, seed=a.seed, data=data, target=a.n_trials,
        pruner=pruner, store=StudyPaths(a.study_root).artifact_store(), progress=False,
    )
    with safe_interrupts():
        _loop(study, obj, a, watch)


def run_search(a: SearchConfig, data: MnistData | None = None) -> optuna.Study:
    device = validate(a)
    if data is None:
        data = load_data(a, device)
    study = prepare_study(a, data)
    announce(study, a)
    try:
        work(a, study, data)
    except WriteFault:  # writing the front would fail the same way; the one line says it all
        raise
    except (SystemExit, UserError) as e:  # Ctrl-C, SIGTERM, failures in a row: the front so far
        finish(study, a, stopped=e)
        raise
    finish(study, a)
    return study


def _say(a: SearchConfig, msg: str) -> None:
    if a.quiet:
        print(msg, flush=True)
    else:
        tqdm.write(msg)


def _loop(study: optuna.Study, obj: Objective, a: SearchConfig, watch: Watch | None) -> None:
    start, fails, waiting = time.monotonic(), 0, False
    watch = watch or (None if a.quiet else EpochBar)
    run = obj if watch is None else watch(obj, a.epochs)
    bar = StudyBar(total=a.n_trials, initial=min(n_finished(study), a.n_trials),
                   desc=f"study {a.name}", unit="trial", disable=a.quiet, dynamic_ncols=True,
                   timeout=a.timeout)
    level = optuna.logging.get_verbosity()
    # Optuna logs each failed trial with its traceback; our own line per trial says why instead.
    optuna.logging.set_verbosity(max(level, optuna.logging.ERROR))
    try:
        while (done := n_finished(study)) < a.n_trials:
            if a.timeout is not None and time.monotonic() - start > a.timeout:
                break
            running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
            if done + running >= a.n_trials:
                if not _wait_for_others(study, a, running, waiting):
                    break
                waiting = True
                continue
            waiting = False
            queue_neighbour(study, a)  # now and then the next trial moves from a front member
            try:
                study.optimize(run, n_trials=1, catch=(Exception,))
            except optuna.exceptions.UpdateFinishedTrialError:
                # our trial went silent past the grace period (a stalled host) and another
                # worker declared it dead and queued it again: drop our result, go on
                _say(a, f"trial {obj.last_number} was taken over by another worker")
            except Surplus as s:  # another worker took the last trial between our check and ask
                study._storage.remove_session()
                unstart(study, s.trial_id)
                _say(a, f"trial {s.number} not needed (the study reached its target): "
                        "back in the queue")
                continue
            last = trial_of(study, obj.last_number)
            reason = last.user_attrs.get("fail_reason", "") if last is not None else ""
            if last is not None and last.state == TrialState.FAIL:
                fails += 1
                if fails >= MAX_FAILS_IN_A_ROW:
                    raise UserError(f"{fails} trials in a row failed; last: {reason}")
            else:
                fails = 0
            if last is not None:  # a line per trial above the bars: the scrollback keeps a record
                _say(a, trial_line(last))
            front = front_trials(study)
            best = max((t.values[0] for t in front), default=float("nan"))
            bar.n = min(n_finished(study), a.n_trials)
            # refresh only mid-run: close() draws the final state once (twice was seen before)
            bar.set_postfix(front=len(front), best=f"{best:.2f}%", refresh=bar.n < a.n_trials)
    except KeyboardInterrupt as e:
        leave_at_once()  # a second Ctrl-C or SIGTERM while we settle: leave at once
        code = exit_status(e)
        try:
            bar.close()
            study._storage.remove_session()  # a write Ctrl-C cut short: roll it back first
            try:
                note = settle_interrupted(study, obj.last_number)
            except Exception:  # the storage is unwell; heartbeats will clean up after us
                note = ""
            print("\n" + stopped_line(e, study, a, note), file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: leave at once; heartbeats clean up after us
        raise SystemExit(code) from None
    except (StopRun, Exception) as e:  # a write the machine refused: in a trial, or in ask/tell
        fault = e.fault if isinstance(e, StopRun) else as_write_fault(e, storage=study._storage)
        if fault is None:
            raise
        bar.close()
        raise settle_fault(study, obj.last_number, a, fault) from None
    finally:
        optuna.logging.set_verbosity(level)
        bar.close()


def _wait_for_others(study: optuna.Study, a: SearchConfig, running: int, waiting: bool) -> bool:
    """The rest of the target is running in other workers: wait a moment, in case one of them
    died (its trial turns FAIL after the grace period and is queued again, for us to run).
    False where that can never happen (a storage without heartbeats)."""
    interval = getattr(study._storage, "get_heartbeat_interval", lambda: None)()
    if interval is None:
        return False
    if not waiting:
        _say(a, f"waiting for {running} trial(s) running in other workers")
    time.sleep(min(interval, MAX_POLL_S))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        fail_stale_trials(study)
    return True
