"""A front member (or any completed trial) as a standalone script + weights.

The weights come from the trial's Optuna artifact (stored by the objective), so nothing is
retrained. The script is also attached to the trial as an artifact, for download from the
dashboard.
"""

from __future__ import annotations

import json
import mimetypes
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import optuna
import torch
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import FrozenTrial, TrialState

from search.atomic import atomic_write
from search.errors import UserError
from search.results.export import ScriptInfo, convert_state_dict, render, verify
from search.results.pareto import front_trials
from search.results.weights import load_trial_weights
from space import Candidate

__all__ = ["DASHBOARD_TRIAL_ARTIFACT", "Exported", "attach_to_trial", "export_trial",
           "select_trial"]

# optuna's upload_artifact() records an artifact in the trial's system attrs, which a finished
# trial no longer accepts. optuna-dashboard also lists a trial's artifacts from *study* system
# attrs under this prefix + "<trial_id>:<artifact_id>" (its own upload format), which stays
# writable, so an export made after the search still appears on the trial's dashboard page.
DASHBOARD_TRIAL_ARTIFACT = "dashboard:artifacts:"


@dataclass(frozen=True)
class Exported:
    trial: int
    script: Path
    weights: Path
    artifact_id: str | None  # the script's artifact on the trial, None if not attached


def select_trial(
    study: optuna.Study, *, number: int | None = None, max_params: int | None = None
) -> FrozenTrial:
    """Trial `number`, else the most accurate front member within `max_params` (or overall)."""
    name = study.study_name
    if number is not None:
        trial = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
        if trial is None:
            raise UserError(f"study {name!r} has no trial {number}")
        if trial.state != TrialState.COMPLETE:
            raise UserError(
                f"trial {number} of study {name!r} is {trial.state.name.lower()}, not completed: "
                "only completed trials keep weights"
            )
        return trial
    front = front_trials(study)
    if not front:
        raise UserError(f"study {name!r} has no completed trial yet")
    if max_params is not None:
        front = [t for t in front if t.values[1] <= max_params]
        if not front:
            smallest = int(min(t.values[1] for t in front_trials(study)))
            raise UserError(f"no completed trial of study {name!r} has at most {max_params} "
                            f"params (the smallest has {smallest})")
    return max(front, key=lambda t: (t.values[0], -t.values[1], -t.number))


def attach_to_trial(study: optuna.Study, trial: FrozenTrial, path: Path, store) -> str:
    """Store `path` as an artifact of finished `trial` (replacing an older file of that name)."""
    storage, sid = study._storage, study._study_id  # what optuna's upload_artifact uses too
    prefix = f"{DASHBOARD_TRIAL_ARTIFACT}{trial._trial_id}:"
    for key, value in storage.get_study_system_attrs(sid).items():
        meta = json.loads(value) if key.startswith(prefix) and value else None
        if meta and meta.get("filename") == path.name:  # a re-export replaces the old copy
            with suppress(ArtifactNotFound):
                store.remove(meta["artifact_id"])
            storage.set_study_system_attr(sid, key, json.dumps(None))  # as the dashboard deletes
    aid = str(uuid.uuid4())
    with path.open("rb") as f:
        store.write(aid, f)
    meta = {"artifact_id": aid, "filename": path.name,
            "mimetype": mimetypes.guess_type(path.name)[0] or "text/plain", "encoding": None}
    storage.set_study_system_attr(sid, prefix + aid, json.dumps(meta))
    return aid


def export_trial(
    study: optuna.Study, trial: FrozenTrial, out: Path, store, *, attach: bool = True
) -> Exported:
    """Write `out` (the script) and its weights beside it; attach the script to the trial."""
    if out.suffix != ".py":
        raise UserError(f"output {out} must end in .py (the weights go beside it as .pt)")
    if "config" not in trial.user_attrs:
        raise UserError(f"trial {trial.number} has no config: not a nas-mnist trial")
    cand = Candidate.from_dict(trial.user_attrs["config"])
    state = load_trial_weights(trial, cand, store)
    weights = out.with_suffix(".pt")
    info = ScriptInfo(study=study.study_name, trial=trial.number, val_acc=trial.values[0],
                      seed=int(trial.user_attrs.get("seed", 0)), stem=out.stem)
    source = render(cand, info)
    verify(source, cand, state)  # before writing: the files either match the trial or don't exist
    try:
        atomic_write(weights, lambda p: torch.save(convert_state_dict(cand.net, state), p))
        atomic_write(out, lambda p: p.write_text(source))
    except OSError as e:
        raise UserError(f"cannot write {out}: {e.strerror}") from None
    aid = attach_to_trial(study, trial, out, store) if attach else None
    return Exported(trial.number, out, weights, aid)
