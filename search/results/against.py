"""The study against the hand-tuned references: for each reference, the study's own best net at or
under its size, chosen on validation, and whether its test accuracy reaches the published figure.

"Own" leaves out the reference nets that ran in the study (a reference cannot dominate itself);
warm starts count, as the search put them there. The pick is among all completed trials, so it is
always on the front of the study's own nets. `deciding` lists the trials these verdicts rest on,
the ones `pareto --evaluate --trials` should retrain. report.md shows the verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from space import REFERENCES, REPORTED, count_params

__all__ = ["Verdict", "against_references", "best_at_or_under", "deciding", "own_trials"]


def own_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's complete trials but the reference nets: the candidates it chooses among."""
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if not t.user_attrs.get("reference")]


def best_at_or_under(trials: list[FrozenTrial], cap: int) -> FrozenTrial | None:
    """Highest validation accuracy within `cap` params; ties: fewer params, then earlier trial."""
    fits = [t for t in trials if t.values[1] <= cap]
    return max(fits, key=lambda t: (t.values[0], -t.values[1], -t.number), default=None)


@dataclass(frozen=True)
class Verdict:
    reference: str
    params: int
    reported: float
    in_study: FrozenTrial | None  # the reference itself, trained in this study
    found: FrozenTrial | None  # the study's own best net at or under `params`, on validation

    @property
    def dominates(self) -> bool | None:
        """None until the found net is retrained: one run on 50k images does not decide."""
        if self.found is None:
            return False
        mean = self.found.user_attrs.get("test_mean")
        return None if mean is None else mean >= self.reported


def against_references(study: optuna.Study) -> list[Verdict]:
    own = own_trials(study)
    ran = {t.user_attrs["reference"]: t
           for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
           if t.user_attrs.get("reference")}
    out = []
    for ref, cand in sorted(REFERENCES.items(), key=lambda kv: count_params(kv[1].net)):
        n = count_params(cand.net)
        out.append(Verdict(ref, n, REPORTED[ref], ran.get(ref), best_at_or_under(own, n)))
    return out


def deciding(study: optuna.Study, caps: list[int] | tuple[int, ...] = ()) -> list[int]:
    """The trials the verdicts (and any extra size caps) rest on, in order of size."""
    own = own_trials(study)
    sizes = [count_params(c.net) for c in REFERENCES.values()] + list(caps)
    picks = {t.number: t for cap in sizes if (t := best_at_or_under(own, cap)) is not None}
    return [t.number for t in sorted(picks.values(), key=lambda t: t.values[1])]
