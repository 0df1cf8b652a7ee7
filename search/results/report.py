"""`studies/<name>/report.md`: the front as a markdown table beside the hand-tuned references.

Written by every `nas-mnist pareto` (test columns filled once `pareto --evaluate` has run). The
table is written by hand: pandas' ``to_markdown`` needs ``tabulate``, which is not a dependency,
and the table is a dozen rows of formatted strings.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import optuna
from optuna.trial import TrialState

from search.atomic import atomic_write
from search.results.against import against_references
from search.results.pareto import front_trials
from space import REFERENCES, REPORTED, count_params, describe

__all__ = ["PROTOCOL", "report_markdown", "write_report"]

PROTOCOL = (
    "Every choice of the search (sampler, pruning, the Pareto front) used validation accuracy on "
    "images held out of the 60k training set; the 10k test set was read only by the evaluation "
    "step (`pareto --evaluate` or `search --evaluate`), after the search loop, at the final epoch "
    "of each run, and no model or epoch was ever picked on it."
)
REPORTED_LABEL = "reported, best epoch picked on test"
HEADER = ("net", "params", "val acc %", "test acc %", "test mean ± sd %", "epochs", "architecture")


def _cell(x: object) -> str:
    # a '|' inside a cell would end it: the one-line architectures separate stages with '|'
    return str(x).replace("|", "\\|")


NA = "-"  # an empty cell


def _n(k: object, what: str) -> str:
    return f"{k} {what}" + ("" if k == 1 else "s")


def _fmt(x: float | None) -> str:
    return NA if x is None else f"{x:.2f}"


def _mean_sd(a: dict) -> str:
    if a.get("test_mean") is None:
        return NA
    n = len(a.get("test_runs", []))
    if a.get("test_sd") is None:
        return f"{a['test_mean']:.2f} ({n} run)"
    return f"{a['test_mean']:.2f} ± {a['test_sd']:.2f} (n={n})"


def _rows(study: optuna.Study, budget: int | None) -> list[tuple[int, list[str]]]:
    rows = []
    front = front_trials(study)
    on_front = {t.number for t in front}
    # the reference nets as reproduced in this study, also where they fell off the front
    off = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
           if t.user_attrs.get("reference") and t.number not in on_front]
    for t in front + off:
        a = t.user_attrs
        ref = a.get("reference")
        name = f"trial {t.number}"
        if ref:
            name += f" ({ref}, reference{'' if t.number in on_front else ', off the front'})"
        rows.append((int(t.values[1]), [
            name, f"{int(t.values[1]):,}", _fmt(t.values[0]), _fmt(a.get("test_acc")), _mean_sd(a),
            str(len(a.get("val_acc", []))), a.get("arch", ""),
        ]))
    for ref, cand in REFERENCES.items():
        n = count_params(cand.net)
        label = REPORTED_LABEL + ("; above budget" if budget is not None and n > budget else "")
        rows.append((n, [
            f"{ref} ({label})", f"{n:,}", NA, f"{REPORTED[ref]:.2f}", NA,
            str(cand.train.epochs), describe(cand.net),
        ]))
    return sorted(rows, key=lambda r: r[0])


def _table(rows: list[list[str]], header: tuple[str, ...] = HEADER,
           right: tuple[int, ...] = (1, 2, 3, 5)) -> list[str]:
    """A markdown table; `right`: the numeric columns."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return lines


AGAINST_HEADER = ("reference", "params", "published test %", "in this study: val %, test %",
                  "found", "found: val %", "found: test once %", "found: test mean ± sd %",
                  "dominates")


def _against() -> str:
    return ("## Against the references\n\nFound: the study's own best net (references left out) "
            "at or under the reference's size, chosen on validation. It dominates when its "
            "retrained test mean reaches the published figure; 'not decided' until it is "
            "retrained (`pareto --evaluate --trials N`).\n")


def _against_rows(study: optuna.Study) -> list[list[str]]:
    rows = []
    for v in against_references(study):
        r, f = v.in_study, v.found
        a = f.user_attrs if f else {}
        d = v.dominates
        verdict = ("not decided" if d is None else "**yes**" if d else
                   "no" if a.get("test_mean") is None else
                   f"no ({a['test_mean'] - v.reported:+.2f} pp)")
        rows.append([
            v.reference, f"{v.params:,}", f"{v.reported:.2f}",
            NA if r is None else f"trial {r.number}: {_fmt(r.values[0])}, "
                                 f"{_fmt(r.user_attrs.get('test_acc'))}",
            NA if f is None else f"trial {f.number}, {int(f.values[1]):,} params",
            NA if f is None else _fmt(f.values[0]), _fmt(a.get("test_acc")), _mean_sd(a), verdict,
        ])
    return rows


def report_markdown(study: optuna.Study) -> str:
    s = study.user_attrs.get("settings", {})
    budget = s.get("budget")
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state for t in trials)
    front = front_trials(study)
    evaluated = [t.user_attrs for t in front if "test_acc" in t.user_attrs
                 or "test_mean" in t.user_attrs]
    subset = s.get("train_subset")
    unknown = "- settings: unknown (not a nas-mnist study?)"
    lines = [
        f"# Study `{study.study_name}`: Pareto front",
        "",
        f"- budget: {budget:,} parameters; {_n(s.get('epochs'), 'epoch')} per trial; study seed "
        f"{s.get('seed')}" if budget is not None else unknown,
        f"- validation: {s.get('val_size', 0):,} images held out of the 60k training set; training "
        + (f"on the first {subset:,} of the rest" if subset else "on the rest"),
        f"- trials: {len(trials)} ({states[TrialState.COMPLETE]} complete, "
        f"{states[TrialState.PRUNED]} pruned, {states[TrialState.FAIL]} failed"
        + (f", {states[TrialState.RUNNING]} running" if states[TrialState.RUNNING] else "")
        + f"); {len(front)} on the front",
        f"- protocol: {PROTOCOL}",
    ]
    if evaluated and len(evaluated) < len(front):
        done = [t.number for t in front if "test_acc" in t.user_attrs
                or "test_mean" in t.user_attrs]
        lines.append(f"- test columns: {len(done)} of {len(front)} front members evaluated "
                     f"(trials {', '.join(map(str, done))}); the others were not scored")
    if not evaluated:
        lines.append("- test columns: not evaluated yet (run `nas-mnist pareto --study "
                     f"{study.study_name} --evaluate`)")
    else:
        lines.append("- test acc: each front member's stored weights (trained on the search's "
                     "train split), scored once")
        rs = next((a for a in evaluated if "test_seeds" in a), None)
        if rs is not None:
            seeds = rs["test_seeds"]
            lines.append(
                f"- test mean ± sd: retrained from seeds {', '.join(map(str, seeds))} on "
                f"{rs.get('test_train_images', 60000):,} training images (no validation split) "
                f"for {_n(rs.get('test_epochs'), 'epoch')}, own recipe; sample sd"
            )
    on_front = {t.number for t in front}
    for t in trials:
        ref = t.user_attrs.get("reference")
        if ref and t.state == TrialState.COMPLETE:
            where = "on the front" if t.number in on_front else "not on the front"
            ep = _n(len(t.user_attrs.get("val_acc", [])), "epoch")
            a = t.user_attrs
            test = "" if a.get("test_acc") is None else f", test acc {a['test_acc']:.2f}%"
            lines.append(f"- reference {ref} ran in this study as trial {t.number}: val acc "
                         f"{t.values[0]:.2f}% after {ep}{test}, {where}")
        elif ref:
            lines.append(f"- reference {ref} ran in this study as trial {t.number}: "
                         f"{t.state.name.lower()}")
    lines += [
        f"- reference rows ({REPORTED_LABEL}): the test accuracy the hand-tuned notebooks "
        "reported, optimistic because the epoch was chosen on the test set itself",
        "",
    ]
    lines += _table([r for _, r in _rows(study, budget)])
    lines += ["", _against(), *_table(_against_rows(study), AGAINST_HEADER, (1, 2, 5, 6, 7))]
    return "\n".join(lines) + "\n"


def write_report(study: optuna.Study, path: Path) -> None:
    """Write the report atomically (a reader never sees half a file)."""
    text = report_markdown(study)
    atomic_write(path, lambda tmp: tmp.write_text(text))
