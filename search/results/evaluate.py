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
from dataclasses import dataclass
from pathlib import Path

import optuna
import torch
from torch import nn
from tqdm.auto import tqdm

from search.results.export_trial import select_trial
from search.results.pareto import front_trials
from search.results.weights import load_trial_weights
from search.store.annotate import rdb_backend, reload, set_finished_attrs
from search.store.study import StudyPaths
from search.training.data import MnistData, Split, load_mnist, load_test
from search.training.device import resolve_device
from search.training.train import History, evaluate, train
from space import Candidate, build, count_params

__all__ = [
    "RESEED_BASE", "Retrained", "chosen_trials", "evaluate_front", "full_train", "reseeds",
    "retrain", "stored_model",
]

# Reseed k trains with seed RESEED_BASE + k: apart from the search's seeds (study seed + trial
# number), and the same for every front member, so reruns reproduce and members compare alike.
RESEED_BASE = 1000


@dataclass
class Retrained:
    """One training run: the model, its history and final-epoch accuracies in %."""

    model: nn.Module
    history: History
    val_acc: float | None  # None when the data had no validation split (full training set)
    test_acc: float | None  # None when no test split was given


def full_train(
    root: str | Path | None, *, device: str | torch.device = "cpu", subset: int | None = None,
    download: bool = True,
) -> MnistData:
    """All 60,000 training images as the train split and an empty validation split.

    ``load_mnist`` always holds out at least one image, so it is asked for one and that image is put
    back. ``subset`` keeps the first N images of its fixed permutation (quick runs and tests).
    """
    d = load_mnist(root, device=device, val_size=1, download=download)
    x, y = torch.cat([d.train.x, d.val.x]), torch.cat([d.train.y, d.val.y])
    if subset is not None:
        x, y = x[:subset], y[:subset]
    return MnistData(train=Split(x, y), val=Split(x[:0], y[:0]), device=d.device)


def retrain(
    cand: Candidate, data: MnistData, *, seed: int, test: Split | None = None,
    epochs: int | None = None, progress: bool = False,
) -> Retrained:
    """Build ``cand.net`` and train it with ``cand.train`` (``epochs`` overrides its epoch count).

    The seed fixes the initial weights as well as shuffling, augmentation and dropout, so on the
    CPU a seed reproduces the run exactly. Accuracies are the final epoch's.
    """
    torch.manual_seed(seed)
    model = build(cand.net)
    hist = train(model, cand.train, data, seed=seed, progress=progress, epochs=epochs)
    val = 100 * hist.final_val_acc if len(data.val) and hist.final_val_acc is not None else None
    test_acc = 100 * evaluate(model, test)[0] if test is not None else None
    return Retrained(model, hist, val, test_acc)


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
) -> optuna.Study:
    """Score the front on the test set, store the scores on its trials; returns the study reloaded.

    ``reseed`` retrainings per member (0: stored weights only) run for the member's own epochs
    unless ``epochs`` is given. Each member's attrs are written as soon as it is done, so an
    interrupted evaluation keeps what it finished. ``trials`` scores those completed trials
    instead of the whole front (when time allows only the members that decide a comparison, or a
    reference net that ran in the study off the front); the front itself never changes.
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
    full = None
    if reseed:
        full = full_train(data_root, device=dev, subset=train_subset, download=download)
    seeds = reseeds(reseed)
    # one bar over all retrainings (the trainer's own epoch bar would show the empty val split)
    bar = tqdm(total=len(front) * reseed, desc="reseed", unit="run", disable=not progress or
               not reseed, dynamic_ncols=True)
    # read every stored weights file first: a damaged one must stop the run before any write
    models = {t.number: stored_model(t, paths) for t in front}
    for t in front:
        cand = Candidate.from_dict(t.user_attrs["config"])
        attrs: dict[str, object] = {}
        line = f"trial {t.number} ({count_params(cand.net):,} params):"
        model = models[t.number]
        if model is None:
            line += " no stored weights, test_acc skipped;"
        else:
            attrs["test_acc"] = _pct(100 * evaluate(model.to(dev), test)[0])
            line += f" stored weights {attrs['test_acc']:.2f}%;"
        if full is not None:
            runs = []
            for s in seeds:
                runs.append(retrain(cand, full, seed=s, test=test, epochs=epochs))
                bar.update()
            accs = [_pct(r.test_acc) for r in runs if r.test_acc is not None]
            sd = _pct(statistics.stdev(accs)) if len(accs) > 1 else None  # sample sd; none of 1
            attrs |= {
                "test_runs": accs, "test_seeds": seeds, "test_mean": _pct(statistics.mean(accs)),
                "test_sd": sd, "test_epochs": epochs or cand.train.epochs,
                "test_train_images": len(full.train),
            }
            line += (f" retrained x{len(accs)} {attrs['test_mean']:.2f}"
                     + (f" +- {sd:.2f}%" if sd is not None else "%"))
            if any(r.history.stopped for r in runs):
                line += " (a run diverged; its final accuracy counts)"
        set_finished_attrs(study, t, attrs)
        (bar.write if not bar.disable else log)(line)
    bar.close()
    study = reload(study)
    after = [t.number for t in front_trials(study)]
    if after != numbers:  # only another worker adding trials meanwhile can do this
        log(f"note: the front changed during the evaluation (another worker?): {numbers} -> "
            f"{after}")
    return study
