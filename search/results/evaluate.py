"""Honest final scoring on the 10k test set, after the search: the front is chosen on validation.

Two numbers per Pareto-front member, both taken at the final epoch (no epoch or model is ever picked
on the test set):

- ``test_acc``: the trial's own stored weights (trained on the search's train split), scored once;
- ``test_mean`` +- ``test_sd`` over ``test_runs``: the same net and recipe retrained from fresh
  seeds ``test_seeds`` on all 60,000 training images, because one run's accuracy on MNIST wanders
  by a few tenths of a percent with the seed alone, the size of the differences on the front.

The results are stored on the trials as user attrs (``search.store.annotate``); which trials are
on the front is never changed. :func:`retrain` is also what ``nas-mnist train`` runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

import optuna
from torch import nn
from tqdm.auto import tqdm

from search.results.export_trial import select_trial
from search.results.pareto import front_trials
from search.results.retrains import Retrained, Task, full_train, retrain, run_retrains
from search.results.weights import load_trial_weights
from search.store.annotate import rdb_backend, reload, set_finished_attrs
from search.store.study import StudyPaths
from search.training.data import load_test
from search.training.device import resolve_device
from search.training.train import evaluate
from space import Candidate, build, count_params

__all__ = [
    "RESEED_BASE", "Retrained", "chosen_trials", "evaluate_front", "full_train", "reseeds",
    "retrain", "stored_model",
]

# Reseed k trains with seed RESEED_BASE + k: apart from the search's seeds (study seed + trial
# number), and the same for every front member, so reruns reproduce and members compare alike.
RESEED_BASE = 1000


def stored_model(trial: optuna.trial.FrozenTrial, paths: StudyPaths) -> nn.Module | None:
    """The trial's final weights from the study's artifact store (CPU), or None if absent."""
    aid = trial.user_attrs.get("weights_artifact")
    if not aid or "config" not in trial.user_attrs:
        return None
    cand = Candidate.from_dict(trial.user_attrs["config"])
    model = build(cand.net)
    model.load_state_dict(load_trial_weights(trial, cand, paths.artifact_store()))
    return model


def chosen_trials(study: optuna.Study, numbers: Sequence[int]) -> list[optuna.trial.FrozenTrial]:
    """The completed trials named, in the order given; UserError names the first that is not."""
    return [select_trial(study, number=n) for n in dict.fromkeys(numbers)]  # twice: scored once


def reseeds(k: int) -> list[int]:
    return [RESEED_BASE + i for i in range(k)]


def _pct(x: float) -> float:
    return round(x, 4)


def evaluate_front(
    study: optuna.Study,
    paths: StudyPaths,
    *,
    data_root: str | Path | None = None,
    device: str = "auto",
    reseed: int = 3,
    epochs: int | None = None,
    train_subset: int | None = None,
    progress: bool = True,
    download: bool = True,
    log: Callable[[str], None] = print,
    trials: Sequence[int] | None = None,
    jobs: int = 1,
) -> optuna.Study:
    """Score the front on the test set, store the scores on its trials; returns the study reloaded.

    ``reseed`` retrainings per member (0: stored weights only) run for the member's own epochs
    unless ``epochs`` is given, ``jobs`` at once (search.results.retrains). Each member's attrs are
    written as soon as its runs are done, so an interrupted evaluation keeps what it finished.
    ``trials`` scores those completed trials instead of the whole front (when time allows only the
    members that decide a comparison, or a reference net that ran in the study off the front); the
    front itself never changes.
    """
    if reseed < 0:
        raise ValueError(f"reseed must be >= 0, got {reseed}")
    dev = resolve_device(device)
    rdb_backend(study)  # where the scores will go: refuse before any work, not after
    front = front_trials(study)
    numbers = [t.number for t in front]
    if trials is not None:
        front = chosen_trials(study, trials)  # "front" below: the members being scored
    if not front:
        log(f"study {study.study_name!r} has no completed trial: nothing to evaluate")
        return study
    test = load_test(data_root, device=dev, download=download)  # the evaluation's only test read
    seeds = reseeds(reseed)
    # read every stored weights file first: a damaged one must stop the run before any write
    models = {t.number: stored_model(t, paths) for t in front}
    by_number = {t.number: t for t in front}
    lines: dict[int, str] = {}
    attrs: dict[int, dict[str, object]] = {}
    for t in front:
        cand = Candidate.from_dict(t.user_attrs["config"])
        lines[t.number] = f"trial {t.number} ({count_params(cand.net):,} params):"
        attrs[t.number] = {}
        model = models[t.number]
        if model is None:
            lines[t.number] += " no stored weights, test_acc skipped;"
        else:
            attrs[t.number]["test_acc"] = _pct(100 * evaluate(model.to(dev), test)[0])
            lines[t.number] += f" stored weights {attrs[t.number]['test_acc']:.2f}%;"
    # one bar over all retrainings (the trainer's own epoch bar would show the empty val split)
    bar = tqdm(total=len(front) * reseed, desc="reseed", unit="run", disable=not progress or
               not reseed, dynamic_ncols=True)
    say = bar.write if not bar.disable else log

    def finish(n: int) -> None:
        set_finished_attrs(study, by_number[n], attrs[n])
        say(lines[n])

    if not reseed:
        for t in front:
            finish(t.number)
    tasks = [Task(t.number, t.user_attrs["config"], s) for t in front for s in seeds]
    runs: dict[int, dict[int, tuple[float, bool]]] = {t.number: {} for t in front}
    full = (full_train(data_root, device=dev, subset=train_subset, download=download)
            if tasks else None)
    for done in run_retrains(tasks, jobs=jobs, epochs=epochs, data=full, test=test):
        bar.update()
        n = done.task.key
        runs[n][done.task.seed] = (done.test_acc, done.stopped)
        if len(runs[n]) < reseed:
            continue
        accs = [_pct(runs[n][s][0]) for s in seeds]
        sd = _pct(statistics.stdev(accs)) if len(accs) > 1 else None  # sample sd; none of 1
        cand = Candidate.from_dict(by_number[n].user_attrs["config"])
        attrs[n] |= {
            "test_runs": accs, "test_seeds": seeds, "test_mean": _pct(statistics.mean(accs)),
            "test_sd": sd, "test_epochs": epochs or cand.train.epochs,
            "test_train_images": len(full.train),
        }
        lines[n] += (f" retrained x{len(accs)} {attrs[n]['test_mean']:.2f}"
                     + (f" +- {sd:.2f}%" if sd is not None else "%"))
        if any(runs[n][s][1] for s in seeds):
            lines[n] += " (a run diverged; its final accuracy counts)"
        finish(n)
    bar.close()
    study = reload(study)
    after = [t.number for t in front_trials(study)]
    if after != numbers:  # only another worker adding trials meanwhile can do this
        log(f"note: the front changed during the evaluation (another worker?): {numbers} -> "
            f"{after}")
    return study
