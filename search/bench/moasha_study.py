"""MOASHA's trials as the trials of an Optuna study of our own shape.

This translation exists because everything that reads an arm (``bench score``, the hypervolume
curves of ``bench front``, ``pareto``, the dashboard) reads an Optuna study whose trials carry what
search.loop.objective writes, while Syne Tune keeps its trials in its own tables, one row per
report. Each Syne Tune trial becomes one Optuna trial, written once the tuner has ended, with
``optuna.trial.create_trial`` so that its times are Syne Tune's own (not when it was written):

- params and distributions: the draws its config stands for (search.bench.moasha_space.drawn);
- values: (validation accuracy % of its last epoch, params); the curve as intermediate values;
- user attrs as our objective sets them: config, params, arch, seed, epochs, device, versions, the
  val_acc / val_loss / epoch_s curves, warm_start (its label), stop_reason or fail_reason, and
  weights_artifact where the trial saved its weights (moved into the study's artifact store);
- state: COMPLETE where it reported every epoch; PRUNED where MOASHA stopped it at a rung, or the
  trainer stopped it (a diverging loss); FAIL where its process failed or never finished;
- datetime_start: when the backend started its process (a trial's process start-up is part of
  what Syne Tune costs its user); datetime_complete: the time stamp of its last report.

No syne_tune import here: :class:`Seen` is plain data that search.bench.moasha fills in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.bench.moasha_space import drawn, plain
from search.bench.moasha_trial import STOP_REASON, WEIGHTS
from search.config import SearchConfig
from search.store.faults import writing
from search.store.study import StudyPaths, open_storage, open_study
from search.training.device import versions
from space import count_params, decode, describe

__all__ = ["SAMPLER", "Seen", "optuna_trial", "write_study"]

SAMPLER = {False: "syne-tune moasha", True: "syne-tune moasha + warm starts"}  # by warm


@dataclass
class Seen:
    """One Syne Tune trial as the tuner saw it."""

    config: dict[str, Any]  # what the scheduler suggested, constants included
    started: datetime  # when the backend started its process
    folder: Path  # its checkpoint folder (search.bench.moasha_trial writes there)
    results: list[dict[str, Any]] = field(default_factory=list)  # reports the scheduler saw
    stopped: bool = False  # the scheduler's decision to stop it came before its last epoch
    status: str = "InProgress"  # Syne Tune's last status of it
    error: str = ""  # the last line of its stderr, where it failed


def _curves(results: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {"val_acc": [float(r["val_acc"]) for r in results],
            "val_loss": [None if r["val_loss"] < 0 else float(r["val_loss"]) for r in results],
            "epoch_s": [float(r["epoch_s"]) for r in results]}


def optuna_trial(seen: Seen, *, budget: int, epochs: int, device: str,
                 store: Any = None) -> FrozenTrial:
    """The Optuna trial of one Syne Tune trial (see the module's docstring); its weights go into
    the artifact store `store`, where there is one and the trial saved them."""
    params, dists = drawn(seen.config)
    cand = decode(params, budget, epochs)
    n = count_params(cand.net)
    curve = _curves(seen.results)
    attrs: dict[str, Any] = {
        "config": cand.to_dict(), "params": n, "arch": describe(cand.net),
        "seed": int(plain(seen.config["trial_seed"])), "epochs": epochs, "device": device,
        "versions": versions(), **curve}
    if label := seen.config.get("warm_start"):
        attrs["warm_start"] = label
    stop = seen.folder / STOP_REASON
    end = (datetime.fromtimestamp(seen.results[-1]["st_worker_timestamp"]) if seen.results
           else seen.started)
    state, values = TrialState.FAIL, None
    if seen.status == "Failed":
        attrs["fail_reason"] = seen.error or "its process failed"
    elif stop.is_file():
        state, attrs["stop_reason"] = TrialState.PRUNED, stop.read_text().strip()
    elif len(seen.results) >= epochs:
        state, values = TrialState.COMPLETE, [curve["val_acc"][-1], n]
        if store is not None and (seen.folder / WEIGHTS).is_file():
            attrs["weights_artifact"] = aid = str(uuid.uuid4())
            with open(seen.folder / WEIGHTS, "rb") as f:
                store.write(aid, f)
            (seen.folder / WEIGHTS).unlink()  # moved: the study's store keeps the one copy
    elif seen.stopped and seen.results:
        state = TrialState.PRUNED
        attrs["stop_reason"] = f"MOASHA stopped it at rung epoch {len(seen.results)}"
    else:
        attrs["fail_reason"] = "still running when the tuner ended"
    t = optuna.trial.create_trial(
        state=state, values=values, params=params, distributions=dists, user_attrs=attrs,
        intermediate_values=dict(enumerate(curve["val_acc"], start=1)))
    t.datetime_start, t.datetime_complete = seen.started, end
    return t


def write_study(a: SearchConfig, seen: list[Seen], *, warm: bool, device: str) -> optuna.Study:
    """Study ``a.name`` in ``a.storage_url`` (new, with our directions and settings), holding the
    Syne Tune trials `seen`, in the order they started."""
    storage = open_storage(a.storage_url)
    settings = {**a.settings(), "sampler": SAMPLER[warm]}
    with writing(storage=storage):  # a full disk: one line naming the database
        study = open_study(storage, a.name, seed=a.seed, settings=settings, sampler_kind="random")
        store = StudyPaths(a.study_root).artifact_store()
        for s in seen:
            study.add_trial(optuna_trial(s, budget=a.budget, epochs=a.epochs, device=device,
                                         store=store))
    return study
