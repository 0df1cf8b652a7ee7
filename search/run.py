"""`nas-mnist search`: one worker's loop over trials of a shared, resumable study.

``--n-trials`` is the study's total target of finished (complete + pruned) trials, over all runs
and workers: rerunning the same command after a crash or Ctrl-C tops the study up to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import optuna
import torch
from optuna.trial import TrialState
from tqdm.auto import tqdm

from search.data import MnistData, load_mnist
from search.errors import UserError
from search.objective import Objective
from search.pareto import front_trials, write_front
from search.pruner import ParetoPruner
from search.study import StudyPaths, default_storage, open_storage, open_study
from space import REFERENCES, count_params, smallest_budget

__all__ = ["SearchArgs", "enqueue_references", "n_finished", "resolve_device", "run_search"]

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
MAX_FAILS_IN_A_ROW = 3  # trials; a systematic error should stop the run, not burn the budget


@dataclass
class SearchArgs:
    budget: int = 10_000  # params
    n_trials: int = 100  # study total of finished trials
    timeout: float | None = None  # seconds for this run; no new trial starts after it
    epochs: int = 15
    study_name: str | None = None  # default b<budget>
    storage: str | None = None  # default sqlite:///<study_dir>/<name>.db
    study_dir: Path = Path("studies")
    data_dir: str | None = None
    device: str = "auto"
    seed: int = 0
    val_size: int = 10_000  # images carved from the 60k training set
    train_subset: int | None = None  # train on the first N training images only (quick runs)
    references: bool = True  # warm start with the reference nets that fit the budget
    prune: bool = True
    quiet: bool = False

    @property
    def name(self) -> str:
        return self.study_name or f"b{self.budget}"

    @property
    def paths(self) -> StudyPaths:
        return StudyPaths(self.study_dir / self.name)

    def settings(self) -> dict[str, object]:
        """What a resumed study must agree on (anything else may change between runs)."""
        return {"budget": self.budget, "epochs": self.epochs, "val_size": self.val_size,
                "seed": self.seed, "train_subset": self.train_subset}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        idx = dev.index or 0
        if not torch.cuda.is_available() or idx >= torch.cuda.device_count():
            raise UserError(f"device {name!r} is not available on this machine")
    elif dev.type != "cpu":
        raise UserError(f"unsupported device {name!r}: use auto, cpu, cuda or cuda:N")
    return dev


def n_finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def enqueue_references(study: optuna.Study, budget: int) -> list[str]:
    """Queue the reference nets within `budget` as a new study's first trials."""
    names = [n for n, c in REFERENCES.items() if count_params(c.net) <= budget]
    for n in names:
        study.enqueue_trial({}, user_attrs={"reference": n})
    return names


def validate(a: SearchArgs) -> None:
    """Refuse bad settings before anything is written."""
    if a.budget < smallest_budget():
        raise UserError(
            f"--budget {a.budget} is below the smallest net of the space "
            f"({smallest_budget()} params)"
        )
    if a.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {a.epochs}")
    if a.n_trials < 1:
        raise UserError(f"--n-trials must be >= 1, got {a.n_trials}")
    if not 0 < a.val_size < 60_000:
        raise UserError(f"--val-size must be in (0, 60000), got {a.val_size}")
    if a.timeout is not None and a.timeout <= 0:
        raise UserError(f"--timeout must be > 0 seconds, got {a.timeout}")


def run_search(a: SearchArgs, data: MnistData | None = None) -> optuna.Study:
    validate(a)
    device = resolve_device(a.device)
    storage = open_storage(a.storage or default_storage(a.study_dir, a.name))
    if data is None:
        data = load_mnist(a.data_dir, device=device, val_size=a.val_size, subset=a.train_subset)
    study = open_study(storage, a.name, seed=a.seed, settings=a.settings())
    if a.references and not study.get_trials(deepcopy=False):
        enqueue_references(study, a.budget)
    pruner = ParetoPruner() if a.prune else ParetoPruner(warmup_trials=10**9)
    obj = Objective(
        budget=a.budget, epochs=a.epochs, seed=a.seed, data=data, target=a.n_trials,
        pruner=pruner, store=a.paths.artifact_store(), progress=not a.quiet,
    )
    _loop(study, obj, a)
    df = write_front(study, a.paths.pareto_csv)
    _plot(study, a)
    print(f"\nPareto front of study {a.name!r} ({len(df)} trials) -> {a.paths.pareto_csv}")
    if len(df):
        print(df.drop(columns=["lr", "schedule"]).to_string(index=False))
    return study


def _plot(study: optuna.Study, a: SearchArgs) -> None:
    try:
        from search.plot import plot_front
    except ImportError:  # the picture is optional until search.plot lands
        return
    plot_front(study, a.paths.pareto_png, budget=a.budget)


def _loop(study: optuna.Study, obj: Objective, a: SearchArgs) -> None:
    start, fails = time.monotonic(), 0
    done = n_finished(study)
    bar = tqdm(total=a.n_trials, initial=min(done, a.n_trials), desc=f"study {a.name}",
               unit="trial", disable=a.quiet, dynamic_ncols=True)
    try:
        while done < a.n_trials:
            if a.timeout is not None and time.monotonic() - start > a.timeout:
                break
            study.optimize(obj, n_trials=1, catch=(Exception,))
            last = _trial(study, obj.last_number)
            if last is not None and last.state == TrialState.FAIL:
                if "surplus" in last.user_attrs.get("fail_reason", ""):
                    break
                fails += 1
                if fails >= MAX_FAILS_IN_A_ROW:
                    reason = last.system_attrs.get("fail_reason", "see the study's FAIL trials")
                    raise UserError(f"{fails} trials in a row failed; last: {reason}")
            else:
                fails = 0
            done = n_finished(study)
            front = front_trials(study)
            best = max((t.values[0] for t in front), default=float("nan"))
            bar.n = min(done, a.n_trials)
            bar.set_postfix(front=len(front), best=f"{best:.2f}%")
            if a.quiet and last is not None:
                vals = last.values or []
                print(f"trial {last.number} {last.state.name.lower()} "
                      f"params={last.user_attrs.get('params')} "
                      f"val_acc={vals[0] if vals else last.user_attrs.get('val_acc', [None])[-1:]}",
                      flush=True)
    except KeyboardInterrupt:
        bar.close()
        print(f"\ninterrupted: the running trial is marked FAIL; {n_finished(study)} of "
              f"{a.n_trials} trials done. Rerun the same command to resume study {a.name!r}.")
        raise SystemExit(130) from None
    finally:
        bar.close()


def _trial(study: optuna.Study, number: int | None) -> optuna.trial.FrozenTrial | None:
    if number is None:
        return None
    return next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
