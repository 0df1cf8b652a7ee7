"""A trial's stored weights, read back from the artifact store with one-line errors.

Shared by `export` and `pareto --evaluate`: both must refuse a damaged or foreign file the same way.
"""

from __future__ import annotations

from typing import Any

import torch
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import FrozenTrial

from search.errors import UserError
from space import Candidate, build

__all__ = ["load_trial_weights"]


def load_trial_weights(trial: FrozenTrial, cand: Candidate, store: Any) -> dict[str, torch.Tensor]:
    """A completed trial's stored state_dict (CPU), checked against its config; one-line errors."""
    aid = trial.user_attrs.get("weights_artifact")
    if not aid:
        raise UserError(f"trial {trial.number} has no stored weights (it was run without an "
                        "artifact store)")
    try:
        with store.open_reader(aid) as f:
            state = torch.load(f, map_location="cpu", weights_only=True)
    except ArtifactNotFound:
        raise UserError(f"weights of trial {trial.number} are missing from the artifact store "
                        f"(artifact {aid})") from None
    except Exception as e:  # pickle/zip errors of a damaged file: their messages are long
        raise UserError(f"weights of trial {trial.number} cannot be read: "
                        f"{type(e).__name__}") from None
    try:
        build(cand.net).load_state_dict(state)
    except RuntimeError:
        raise UserError(f"stored weights of trial {trial.number} do not fit its config") from None
    return state
