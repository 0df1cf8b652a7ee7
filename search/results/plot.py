"""The Pareto front as a picture: validation accuracy against parameter count.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, so no global backend state and no
display needed). Completed trials are points, pruned trials faint points at their last validation
accuracy, the front a step line, the budget a vertical line, reference networks labelled.
"""

from __future__ import annotations

from pathlib import Path

import optuna
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from optuna.trial import TrialState

from search.atomic import atomic_write
from search.results.pareto import front_trials

__all__ = ["plot_front"]

# Broken trials (e.g. 10 % accuracy) would squash the interesting top of the axis: the y axis
# starts this many times the front's own accuracy spread below its worst member (at least 1 pp).
Y_MARGIN = 1.0
MAX_NUMBERED = 20  # front members labelled with their trial number; a longer front is unlabelled


def _pruned_points(study: optuna.Study) -> list[tuple[int, float]]:
    pts = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,)):
        curve, n = t.user_attrs.get("val_acc") or [], t.user_attrs.get("params")
        if curve and n:
            pts.append((int(n), float(curve[-1])))
    return pts


def _stagger(xs: list[float], near: float = 1.15) -> list[int]:
    """A label level per point of ascending `xs`: one up from its left neighbour's when the two are
    within `near`x of each other on the log axis (whose labels would overlap), else 0."""
    levels: list[int] = []
    for i, x in enumerate(xs):
        levels.append(levels[-1] + 1 if i and x < xs[i - 1] * near else 0)
    return levels


def plot_front(study: optuna.Study, png_path: Path, budget: int | None = None) -> Path:
    """Write the study's front picture to `png_path` (atomically) and return the path."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    front = front_trials(study)
    pruned = _pruned_points(study)
    fig = Figure(figsize=(8, 5), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("validation accuracy (%)")
    ax.grid(True, which="both", alpha=0.25)
    if pruned:
        px, py = zip(*pruned, strict=True)
        ax.scatter(px, py, s=12, color="grey", alpha=0.25, label=f"pruned ({len(pruned)})")
    if done:
        ax.scatter([t.values[1] for t in done], [t.values[0] for t in done], s=18,
                   color="tab:blue", alpha=0.7, label=f"completed ({len(done)})")
    if front:
        fx, fy = [t.values[1] for t in front], [t.values[0] for t in front]
        # a front member's accuracy is reachable with any larger budget: a step up at each member
        right = budget if budget and budget > fx[-1] else fx[-1] * 1.1
        ax.step(fx + [right], fy + [fy[-1]], where="post", color="tab:red", lw=1.6)
        ax.scatter(fx, fy, s=40, color="tab:red", zorder=3, label=f"Pareto front ({len(front)})")
        numbered = ([t for t in front if not t.user_attrs.get("reference")]
                    if len(front) <= MAX_NUMBERED else [])
        for t, level in zip(numbered, _stagger([t.values[1] for t in numbered]), strict=True):
            # trial numbers, as `export --trial` takes them
            ax.annotate(f"#{t.number}", (t.values[1], t.values[0]), xytext=(4, -10 - 8 * level),
                        textcoords="offset points", fontsize=7, color="tab:red")
        lo, hi = min(fy), max(t.values[0] for t in done)
        bottom = lo - max(1.0, Y_MARGIN * (hi - lo))
        hidden = sum(1 for t in done if t.values[0] < bottom) + sum(1 for _, y in pruned
                                                                    if y < bottom)
        ax.set_ylim(bottom, hi + 0.1 * (hi - bottom))
        if hidden:
            ax.text(0.99, 0.01, f"{hidden} trials below {bottom:.1f} % not shown",
                    transform=ax.transAxes, ha="right", va="bottom", fontsize=8, color="grey")
    else:
        ax.text(0.5, 0.5, "no completed trials yet", transform=ax.transAxes, ha="center")
    on_front = {t.number for t in front}
    named = []
    for t in sorted(done, key=lambda t: t.values[1]):  # references everywhere; warm starts where
        name = t.user_attrs.get("reference") or (  # they made the front
            t.user_attrs.get("warm_start") if t.number in on_front else None)
        if name:
            named.append((t, name))
    for (t, name), level in zip(named, _stagger([t.values[1] for t, _ in named]), strict=True):
        ax.annotate(name, (t.values[1], t.values[0]), xytext=(4, 4 + 10 * level),
                    textcoords="offset points", fontsize=8)
    if budget:
        ax.axvline(budget, color="black", ls="--", lw=1, label=f"budget {budget:,}")
    ax.set_title(f"study {study.study_name}: validation accuracy vs parameters")
    ax.legend(loc="lower right" if not front else "upper left", fontsize=8)
    return atomic_write(png_path, lambda tmp: fig.savefig(tmp, format="png"))
