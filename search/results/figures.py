"""Study-level plotly figures for optuna-dashboard: every learning curve, and the front with its
test-set scores beside the reference networks.

optuna-dashboard draws its own study-level "Intermediate Values" chart only for single-objective
studies, and its Pareto plot knows nothing of test scores or references; these figures fill both
gaps and are stored in the study (search.results.publish), so the dashboard shows them on the study
page without any code on the server side.
"""

from __future__ import annotations

import math

import optuna
import plotly.graph_objects as go
from optuna.trial import TrialState
from plotly.colors import sample_colorscale

from search.results.pareto import front_trials
from search.store.study import FINISHED
from space import REFERENCES, REPORTED, count_params

__all__ = ["CURVES_TITLE", "FRONT_TITLE", "front_figure", "learning_curves"]

CURVES_TITLE = "Learning curves (validation accuracy per epoch)"
FRONT_TITLE = "Pareto front: validation and test accuracy"
COLORSCALE = "Viridis"
PRUNED_OPACITY = 0.25  # pruned curves stay visible as context without hiding the completed ones


def _curve(t: optuna.trial.FrozenTrial) -> list[float]:
    # the user attr holds the curve of every trial, also of studies older than intermediate values
    attr = t.user_attrs.get("val_acc")
    if attr:
        return [math.nan if v is None else float(v) for v in attr]
    return [t.intermediate_values[k] for k in sorted(t.intermediate_values)]


def _params(t: optuna.trial.FrozenTrial) -> int | None:
    n = t.user_attrs.get("params")
    return int(n) if n else None


def learning_curves(study: optuna.Study) -> go.Figure:
    """One line per trial (epoch, val acc %), coloured by log10(params); pruned ones faint."""
    trials = [t for t in study.get_trials(deepcopy=False, states=FINISHED)
              if _curve(t) and _params(t)]
    fig = go.Figure()
    logs = [math.log10(_params(t)) for t in trials]
    lo, hi = (min(logs), max(logs)) if logs else (2.0, 4.0)
    span = hi - lo or 1.0
    for t, lg in zip(trials, logs, strict=True):
        ys = _curve(t)
        pruned = t.state == TrialState.PRUNED
        color = sample_colorscale(COLORSCALE, [(lg - lo) / span])[0]
        fig.add_trace(go.Scatter(
            x=list(range(1, len(ys) + 1)), y=ys, mode="lines+markers",
            line={"color": color, "width": 1 if pruned else 2, "dash": "dot" if pruned else None},
            marker={"size": 3 if pruned else 5}, opacity=PRUNED_OPACITY if pruned else 0.9,
            name=f"#{t.number}" + (" (pruned)" if pruned else ""), showlegend=False,
            hovertemplate=(f"trial {t.number}{' (pruned)' if pruned else ''}<br>"
                           f"{_params(t):,} params<br>{t.user_attrs.get('arch', '')}<br>"
                           "epoch %{x}: %{y:.2f} %<extra></extra>"),
        ))
    if trials:  # an invisible marker trace carries the size colour bar
        fig.add_trace(go.Scatter(
            x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
            marker={"color": [lo], "cmin": lo, "cmax": hi, "colorscale": COLORSCALE,
                    "showscale": True, "colorbar": {
                        "title": {"text": "params"},
                        "tickvals": [lo, (lo + hi) / 2, hi],
                        "ticktext": [f"{10 ** v:,.0f}" for v in (lo, (lo + hi) / 2, hi)]}},
        ))
    n_pruned = sum(t.state == TrialState.PRUNED for t in trials)
    fig.update_layout(
        title=f"{CURVES_TITLE}<br><sup>{len(trials) - n_pruned} completed, {n_pruned} pruned "
        "(faint, dotted); colour: parameters</sup>",
        xaxis_title="epoch", yaxis_title="validation accuracy (%)", template="plotly_white")
    fig.update_xaxes(dtick=1)
    return fig


def front_figure(study: optuna.Study) -> go.Figure:
    """Completed trials, the front (val acc, and test mean ± sd once evaluated), references."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    front = front_trials(study)
    budget = study.user_attrs.get("settings", {}).get("budget")
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=[t.values[1] for t in done], y=[t.values[0] for t in done], mode="markers",
        name="completed (val)", marker={"color": "lightgrey", "size": 6},
        text=[f"trial {t.number}: {t.user_attrs.get('arch', '')}" for t in done],
        hovertemplate="%{text}<br>%{x:,} params, val %{y:.2f} %<extra></extra>"))
    fx, fy = [t.values[1] for t in front], [t.values[0] for t in front]
    fig.add_trace(go.Scatter(
        x=fx, y=fy, mode="lines+markers+text", line={"shape": "hv", "color": "crimson"},
        marker={"size": 9}, name="front (val)", text=[f"#{t.number}" for t in front],
        textposition="bottom right", hovertemplate="trial %{text}: %{x:,} params, "
        "val %{y:.2f} %<extra></extra>"))
    scored = [t for t in front if t.user_attrs.get("test_mean") is not None]
    if scored:
        fig.add_trace(go.Scatter(
            x=[t.values[1] for t in scored], y=[t.user_attrs["test_mean"] for t in scored],
            error_y={"type": "data", "array": [t.user_attrs.get("test_sd") or 0 for t in scored]},
            mode="markers", marker={"symbol": "square", "size": 8, "color": "royalblue"},
            name="front (test mean ± sd, retrained)",
            hovertemplate="%{x:,} params: test %{y:.2f} ± %{error_y.array:.2f} %<extra></extra>"))
    once = [t for t in front if t.user_attrs.get("test_acc") is not None]
    if once:
        fig.add_trace(go.Scatter(
            x=[t.values[1] for t in once], y=[t.user_attrs["test_acc"] for t in once],
            mode="markers", marker={"symbol": "x", "size": 8, "color": "royalblue"},
            name="front (test, stored weights)",
            hovertemplate="%{x:,} params: test %{y:.2f} %<extra></extra>"))
    refs = [(name, count_params(c.net)) for name, c in REFERENCES.items()]
    fig.add_trace(go.Scatter(
        x=[n for _, n in refs], y=[REPORTED[name] for name, _ in refs], mode="markers+text",
        marker={"symbol": "diamond-open", "size": 10, "color": "darkorange"},
        text=[name for name, _ in refs], textposition="top center",
        name="references (reported test, epoch picked on test)",
        hovertemplate="%{text}: %{x:,} params, reported %{y:.2f} %<extra></extra>"))
    ran = [t for t in done if t.user_attrs.get("reference")]
    if ran:
        fig.add_trace(go.Scatter(
            x=[t.values[1] for t in ran], y=[t.values[0] for t in ran], mode="markers",
            marker={"symbol": "star", "size": 11, "color": "darkorange"},
            name="references run in this study (val)",
            text=[t.user_attrs["reference"] for t in ran],
            hovertemplate="%{text}: %{x:,} params, val %{y:.2f} %<extra></extra>"))
    if budget:
        fig.add_vline(x=budget, line_dash="dash", line_color="black",
                      annotation_text=f"budget {budget:,}")
    if fy:  # broken trials (10 %) would squash the interesting top: start below the front
        tops = fy + [REPORTED[n] for n, _ in refs] + [t.user_attrs["test_mean"] for t in scored]
        lows = fy + [t.user_attrs["test_mean"] - (t.user_attrs.get("test_sd") or 0)
                     for t in scored]
        fig.update_yaxes(range=[max(0.0, min(lows) - max(1.0, 0.1 * (max(tops) - min(lows)))),
                                max(tops) + 1.0])
    fig.update_layout(title=FRONT_TITLE, xaxis_title="parameters (log scale)",
                      yaxis_title="accuracy (%)", template="plotly_white",
                      legend={"orientation": "h", "y": -0.25})
    xs = [t.values[1] for t in done] + [n for _, n in refs] + ([budget] if budget else [])
    ticks = _ticks(min(xs), max(xs))
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[f"{v:,}" for v in ticks])
    return fig


def _ticks(lo: float, hi: float) -> list[int]:
    """1-2-5 ticks spanning [lo, hi]: plotly's own log ticks label 2..9 of each decade bare."""
    out, k = [], 1
    while k <= 10 * hi:
        out += [v for v in (k, 2 * k, 5 * k) if lo / 2 <= v <= hi * 2]
        k *= 10
    return out
