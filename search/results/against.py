"""The study against the hand-tuned references: for each reference, the study's own best net at or
under its size, chosen on validation, and whether its test accuracy reaches the published figure.

"Own" leaves out the reference nets that ran in the study (a reference cannot dominate itself);
warm starts count, as the search put them there. The pick is among all completed trials, so it is
always on the front of the study's own nets. `deciding` lists the trials these verdicts rest on,
the ones `pareto --evaluate --trials` should retrain.
"""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from space import REFERENCES, REPORTED, count_params

__all__ = ["Verdict", "against_markdown", "against_references", "best_at_or_under", "deciding"]


def _own(study: optuna.Study) -> list[FrozenTrial]:
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
    def score(self) -> tuple[float, str] | None:
        """The found net's test accuracy: 3-seed mean when retrained, else its stored weights'."""
        a = self.found.user_attrs if self.found else {}
        if a.get("test_mean") is not None:
            sd = f" ± {a['test_sd']:.2f}" if a.get("test_sd") is not None else ""
            return a["test_mean"], f"{a['test_mean']:.2f}{sd} (n={len(a.get('test_runs', []))})"
        if a.get("test_acc") is not None:
            return a["test_acc"], f"{a['test_acc']:.2f} (stored weights, once)"
        return None

    @property
    def dominates(self) -> bool | None:
        """None until the found net is retrained: one run on 50k images does not decide."""
        a = self.found.user_attrs if self.found else {}
        if self.found is None:
            return False
        if a.get("test_mean") is None:
            return None
        return a["test_mean"] >= self.reported


def against_references(study: optuna.Study) -> list[Verdict]:
    own = _own(study)
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
    own = _own(study)
    picks = {v.found.number: v.found for v in against_references(study) if v.found}
    for cap in caps:
        t = best_at_or_under(own, cap)
        if t is not None:
            picks[t.number] = t
    return [t.number for t in sorted(picks.values(), key=lambda t: t.values[1])]


def _trial(t: FrozenTrial | None) -> str:
    return "-" if t is None else f"trial {t.number}, {int(t.values[1]):,} params"


def against_markdown(study: optuna.Study) -> list[str]:
    lines = [
        "## Against the references",
        "",
        "Found: the study's own best net (references left out) at or under the reference's size, "
        "chosen on validation. It dominates when its retrained test mean reaches the published "
        "figure; 'not decided' until it is retrained (`pareto --evaluate --trials N`).",
        "",
        "| reference | params | published test % | in this study: val %, test % | found | "
        "found: val % | found: test % | dominates |",
        "|---|---:|---:|---|---|---:|---|---|",
    ]
    for v in against_references(study):
        r = v.in_study
        here = "-" if r is None else (
            f"trial {r.number}: {r.values[0]:.2f}, "
            + ("-" if r.user_attrs.get("test_acc") is None else f"{r.user_attrs['test_acc']:.2f}"))
        score = v.score
        d = v.dominates
        verdict = "not decided" if d is None else (
            "**yes**" if d else "no" + ("" if score is None else
                                        f" ({score[0] - v.reported:+.2f} pp)"))
        lines.append(
            f"| {v.reference} | {v.params:,} | {v.reported:.2f} | {here} | {_trial(v.found)} | "
            + ("-" if v.found is None else f"{v.found.values[0]:.2f}")
            + f" | {'-' if score is None else score[1]} | {verdict} |")
    return lines
