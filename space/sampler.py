"""The budget-respecting sampler: `sample(trial, budget)` draws a Candidate that always fits.

`suggest(trial)` is the one function that talks to the trial (any object with Optuna's
``suggest_*`` methods; this package never imports optuna). `decode(params, budget)` turns the drawn
values into a config, so ``decode(trial.params, budget)`` is the inverse used to rebuild a trial.

Fitting is by construction, no rejection: the topology is drawn first; if even its narrowest version
exceeds the budget it is narrowed step by step towards the smallest net of the space; then a size
target between that narrowest version and the budget is placed on a log scale by the ``size`` draw,
and the widths are scaled to the largest that stays under the target (count is monotone in scale).
A separable conv costs less than a plain one of the same widths (cin*(9+out) <= 9*cin*out for
out >= 2), so the narrowest net, with every conv plain, still bounds every draw from above.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Any, Protocol

from space.candidate import Candidate
from space.config import IN_SIZE, N_CLASSES, Conv, Head, NetConfig
from space.params import count_params
from space.recipe import BOUNDS, TrainConfig

__all__ = [
    "RECIPE_KEYS", "BudgetError", "Topology", "decode", "fitting_topology", "net_params", "sample",
    "size_for", "smallest_budget", "suggest",
]

W_MIN = BOUNDS["min_width"]
W_MAX = 512.0  # channels: upper end of the width-scale bisection, far beyond any sane budget


class BudgetError(ValueError):
    """The budget admits no net of the space (one-line message naming the smallest budget)."""


class TrialLike(Protocol):
    def suggest_int(self, name: str, low: int, high: int) -> int: ...
    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


def suggest(trial: TrialLike) -> dict[str, Any]:
    """Draw every searched value from the trial; returns them as trial.params would hold them."""
    b, p = BOUNDS, {}
    p["stages"] = trial.suggest_int("stages", *b["stages"])
    for s in range(p["stages"]):
        p[f"convs{s}"] = trial.suggest_int(f"convs{s}", *b["convs"])
        p[f"pad{s}"] = trial.suggest_categorical(f"pad{s}", [0, 1])
        if s > 0:
            p[f"trans{s}"] = trial.suggest_categorical(f"trans{s}", [False, True])
    if any(p.get(f"trans{s}") for s in range(1, p["stages"])):
        p["trans_ratio"] = trial.suggest_float("trans_ratio", *b["trans_ratio"])
    # one relative width per 3x3 conv, so any shape (wide-narrow-wide, as in the references) can
    # be drawn; the scale bisection in decode() still sets the absolute widths under the budget
    for j in range(sum(p[f"convs{s}"] for s in range(p["stages"]))):
        p[f"w{j}"] = trial.suggest_float(f"w{j}", *b["width"], log=True)
        # depthwise-separable or plain, per 3x3 conv; not the first: it sees one input channel
        if j > 0:
            p[f"sep{j}"] = trial.suggest_categorical(f"sep{j}", [False, True])
    # BN is always on (its order is searched): in a first CPU study (4 epochs, 20k images) every
    # BN-free draw of a few thousand params was stuck at 11-40% val acc; all reference nets use BN.
    # The config can still express BN-free nets (act="relu").
    p["bn"] = trial.suggest_categorical("bn", ["relu_bn", "bn_relu"])
    p["bias"] = trial.suggest_categorical("bias", [True, False])
    p["drop"] = trial.suggest_float("drop", *b["drop"])
    p["drop2d"] = trial.suggest_categorical("drop2d", [False, True])
    # gap_conv is left out: it is gap_linear without a hidden layer under another name.
    # flatten is left out: it needs the body to end at exactly 1x1, which stages can't promise.
    p["head"] = trial.suggest_categorical("head", ["gap", "gap_linear", "gap_mlp"])
    if p["head"] == "gap_mlp":
        p["hidden_ratio"] = trial.suggest_float("hidden_ratio", *b["hidden_ratio"])
    # the size last of the net's draws: a sampler that keeps sizes above a floor
    # (search.store.samplers) then knows the drawn shape's narrowest net
    p["size"] = trial.suggest_float("size", *b["size"])
    opt = p["optimizer"] = trial.suggest_categorical("optimizer", list(b["optimizer"]))
    p[f"lr_{opt}"] = trial.suggest_float(f"lr_{opt}", *b[f"lr_{opt}"], log=True)
    p[f"wd_{opt}"] = trial.suggest_float(f"wd_{opt}", *b[f"wd_{opt}"], log=True)
    p["schedule"] = trial.suggest_categorical("schedule", list(b["schedule"]))
    p["log2_batch"] = trial.suggest_int("log2_batch", *b["log2_batch"])
    p["rotate"] = trial.suggest_float("rotate", *b["rotate"])
    p["translate"] = trial.suggest_float("translate", *b["translate"])
    p["scale"] = trial.suggest_float("scale", *b["scale"])
    p["label_smoothing"] = trial.suggest_float("label_smoothing", *b["label_smoothing"])
    p["ema"] = trial.suggest_categorical("ema", [False, True])
    if p["ema"]:
        p["ema_epochs"] = trial.suggest_float("ema_epochs", *b["ema_epochs"], log=True)
    return p


# the draws that decide how a net is trained (TrainConfig); every other draw decides the net
RECIPE_KEYS = frozenset({
    "optimizer", "lr_sgd", "lr_adamw", "wd_sgd", "wd_adamw", "schedule", "log2_batch",
    "batch_size", "rotate", "translate", "scale", "label_smoothing", "ema", "ema_epochs",
})


def net_params(params: dict[str, Any]) -> dict[str, Any]:
    """The draws of `params` that decide the net (all but RECIPE_KEYS): fixing them fixes the net
    at a given budget, whatever recipe is drawn around it."""
    return {k: v for k, v in params.items() if k not in RECIPE_KEYS}


def _batch_size(params: dict[str, Any]) -> int:
    # trials drawn before log2_batch existed hold batch_size (64 / 128 / 256) instead
    return 2 ** params["log2_batch"] if "log2_batch" in params else params["batch_size"]


@dataclass(frozen=True)
class Topology:
    """The discrete shape of a sampled net; widths come later from a single scale."""

    convs: tuple[int, ...]  # 3x3 convs per stage; a max-pool closes every stage but the last
    pads: tuple[int, ...]  # padding wish per stage (0 is kept only where the map stays >= 3)
    trans: tuple[bool, ...]  # 1x1 transition opening each stage (first entry always False)
    head: str  # gap | gap_linear | gap_mlp
    bn: str  # relu_bn | bn_relu | none
    bias: bool

    def narrower(self) -> Topology | None:
        """One step towards the smallest net; None when already there."""
        if max(self.convs) > 1:  # drop a conv from the deepest of the longest stages
            i = max(range(len(self.convs)), key=lambda s: (self.convs[s], s))
            return replace(self, convs=self.convs[:i] + (self.convs[i] - 1,) + self.convs[i + 1 :])
        if any(self.trans):
            i = max(s for s, t in enumerate(self.trans) if t)
            return replace(self, trans=self.trans[:i] + (False,) + self.trans[i + 1 :])
        if self.head == "gap_mlp":
            return replace(self, head="gap_linear")
        if len(self.convs) > 2:
            return replace(self, convs=self.convs[:-1], pads=self.pads[:-1], trans=self.trans[:-1])
        return None


def _net(t: Topology, w: float, p: dict[str, Any]) -> NetConfig:
    """The net of topology `t` at width scale `w` (widths nondecreasing in `w`)."""
    j, size, convs = 0, IN_SIZE, []
    drop = p.get("drop", 0.0)
    act = "relu" if t.bn == "none" else t.bn
    blk = {"act": act, "bias": t.bias, "drop": drop, "drop2d": p.get("drop2d", False)}
    prev = W_MIN
    for s, n in enumerate(t.convs):
        if t.trans[s]:
            tw = max(W_MIN, round(prev * p.get("trans_ratio", 1.0)))
            convs.append(Conv(out=tw, k=1, **blk))
        for i in range(n):
            # the 3x3 conv j is w{j} times the scale (w{j} <= 1): at scale W_MIN every conv is
            # W_MIN wide, so that is the narrowest net, and every width grows with the scale
            width = max(W_MIN, round(w * p.get(f"w{j}", 1.0)))
            pad = 0 if t.pads[s] == 0 and size >= 5 else 1
            size = size + 2 * pad - 2
            last = i == n - 1 and s < len(t.convs) - 1
            # no sep key means a plain conv: stored draws that lack the keys decode to their nets
            sep = j > 0 and bool(p.get(f"sep{j}", False))
            convs.append(Conv(out=width, k=3, pad=pad, pool=last, sep=sep, **blk))
            size, j, prev = (size // 2 if last else size), j + 1, width
    if t.head == "gap":
        convs.append(Conv(out=N_CLASSES, k=1, bias=t.bias, act="none"))
        return NetConfig(tuple(convs), Head(kind="gap"))
    hidden = max(W_MIN, round(prev * p.get("hidden_ratio", 1.0))) if t.head == "gap_mlp" else 0
    return NetConfig(tuple(convs), Head(kind="gap_linear", hidden=hidden, hidden_relu=bool(hidden)))


def _topology(p: dict[str, Any]) -> Topology:
    n = p["stages"]
    return Topology(
        convs=tuple(p[f"convs{s}"] for s in range(n)),
        pads=tuple(p[f"pad{s}"] for s in range(n)),
        trans=(False,) + tuple(bool(p[f"trans{s}"]) for s in range(1, n)),
        head=p["head"], bn=p["bn"], bias=p.get("bias", True) if p["bn"] != "none" else True,
    )


def smallest_budget() -> int:
    """The least budget under which every draw fits: the narrowest net, at its costliest options."""
    t = Topology((1, 1), (0, 0), (False, False), "gap_linear", "relu_bn", True)
    heads, bns = ("gap", "gap_linear"), ("relu_bn", "bn_relu")
    return max(
        count_params(_net(replace(t, head=h, bn=b), W_MIN, {}))
        for h, b in itertools.product(heads, bns)
    )


def fitting_topology(params: dict[str, Any], budget: int) -> Topology:
    """The drawn topology, narrowed until its narrowest net fits `budget`: the shape decoded."""
    return _fitting_topology(params, budget)[0]


def _fitting_topology(params: dict[str, Any], budget: int) -> tuple[Topology, int]:
    """The drawn topology, narrowed until its narrowest net fits; and that net's size."""
    t = _topology(params)
    while count_params(_net(t, W_MIN, params)) > budget:
        t = t.narrower()  # the loop ends: the narrowest topology fits any budget >= floor
    return t, count_params(_net(t, W_MIN, params))


def size_for(params: dict[str, Any], budget: int, target: int) -> float:
    """The ``size`` draw whose net is the widest of `params`' shape with <= `target` params."""
    _, lo_p = _fitting_topology(params, budget)
    if target <= lo_p or budget <= lo_p:
        return 0.0
    return min(1.0, math.log(target / lo_p) / math.log(budget / lo_p))


def decode(params: dict[str, Any], budget: int, epochs: int = TrainConfig.epochs) -> Candidate:
    """Candidate for drawn values `params` (e.g. trial.params); always count_params <= budget."""
    floor = smallest_budget()
    if budget < floor:
        raise BudgetError(
            f"budget {budget} is below the smallest net of the space ({floor} params)"
        )
    t, lo_p = _fitting_topology(params, budget)
    # the tiny slack keeps a size from size_for() on its plateau despite float round-off
    target = lo_p * (budget / lo_p) ** params["size"] * (1 + 1e-9)
    lo, hi = float(W_MIN), W_MAX  # bisection for the widest scale whose net fits the target
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if count_params(_net(t, mid, params)) <= target else (lo, mid)
    opt = params["optimizer"]
    train = TrainConfig(
        epochs=epochs, batch_size=_batch_size(params), optimizer=opt, lr=params[f"lr_{opt}"],
        weight_decay=params[f"wd_{opt}"], schedule=params["schedule"], rotate=params["rotate"],
        translate=params["translate"], scale=params.get("scale", 0.0),
        label_smoothing=params["label_smoothing"],
        # keys a draw lacks were not in the space when it was made: their default is what ran
        ema_epochs=params["ema_epochs"] if params.get("ema") else 0.0,
    )
    return Candidate(net=_net(t, lo, params), train=train)


def sample(trial: TrialLike, budget: int, epochs: int = TrainConfig.epochs) -> Candidate:
    """Draw a candidate within `budget` params from `trial`."""
    if budget < smallest_budget():  # refuse before asking the trial anything
        decode({}, budget)
    return decode(suggest(trial), budget, epochs)


