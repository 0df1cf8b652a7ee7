"""The user's five hand-tuned reference networks, written as configs of this space.

Each name is its parameter count. `REPORTED` holds the test accuracy the notebooks reported (best
epoch picked on the test set, so optimistic); recipes follow the notebooks where they say, and use
this project's defaults where they are silent (noted per net).
"""

from __future__ import annotations

from space.candidate import Candidate
from space.config import Conv, Head, NetConfig
from space.recipe import TrainConfig

__all__ = ["REFERENCES", "REPORTED", "reference"]


def _c(cin_unused: int, out: int, k: int = 3, pad: int = 0, **kw: object) -> Conv:
    # cin is implied by the previous conv; it is written out only to mirror the notebooks' c(i->o).
    return Conv(out=out, k=k, pad=pad, **kw)  # type: ignore[arg-type]


_RB = {"act": "relu_bn"}
_d25 = {"act": "relu_bn", "drop": 0.25}
ref6016 = NetConfig(
    convs=(
        _c(1, 8, pad=1, **_RB), _c(8, 8, pad=1, pool=True, **_d25),
        _c(8, 8, pad=1, **_RB), _c(8, 8, pad=1, pool=True, **_d25),
        _c(8, 8, pad=1, **_RB), _c(8, 10, pad=1, pool=True, **_d25),
        _c(10, 10, pad=1, **_RB), _c(10, 10, pad=1, **_d25),
        _c(10, 10, pad=0, act="none"),
    ),
    head=Head(kind="flatten"),
)

_BR = {"bias": False, "act": "bn_relu"}
ref9902 = NetConfig(
    convs=(
        _c(1, 4, pad=1, **_BR), _c(4, 8, pad=1, pool=True, **_BR),
        _c(8, 16, **_BR), _c(16, 20, **_BR), _c(20, 24, bias=False, act="none"),
    ),
    head=Head(kind="gap_linear", hidden=32),
)

_d10 = {"act": "relu_bn", "drop": 0.1}
ref13914 = NetConfig(
    convs=(
        _c(1, 8, **_d10), _c(8, 16, **_d10), _c(16, 32, **_d10),
        _c(32, 16, k=1, act="relu", pool=True),
        _c(16, 16, **_d10), _c(16, 32, **_d10),
    ),
    head=Head(kind="gap_linear"),
)

_p = {"act": "relu_bn", "drop": 0.05, "drop2d": True}
ref10224 = NetConfig(
    convs=(
        _c(1, 10, pad=1, **_p), _c(10, 16, pad=1, pool=True, **_p),
        _c(16, 8, k=1, **_p), _c(8, 16, pad=1, **_p), _c(16, 16, pad=1, **_p),
        _c(16, 16, pad=1, pool=True, **_p),
        _c(16, 8, k=1, **_p), _c(8, 10, **_p), _c(10, 16, **_p),
        _c(16, 10, k=1, act="none"),
    ),
    head=Head(kind="gap"),
)

_q = {"bias": False, "act": "relu_bn", "drop": 0.15, "drop2d": True}
ref18448 = NetConfig(
    convs=(
        _c(1, 16, **_q), _c(16, 32, **_q), _c(32, 20, k=1, bias=False, act="none", pool=True),
        _c(20, 32, **_q), _c(32, 16, **_q), _c(16, 16, **_q),
    ),
    head=Head(kind="gap_conv", bias=False),
)

def _sgd(epochs: int, batch: int, lr: float, **kw: object) -> TrainConfig:
    # plain SGD with momentum 0.9, no weight decay, constant lr unless a schedule is given
    base = {"optimizer": "sgd", "momentum": 0.9, "weight_decay": 0.0, "schedule": "none"}
    return TrainConfig(epochs=epochs, batch_size=batch, lr=lr, **{**base, **kw})  # type: ignore[arg-type]


REFERENCES: dict[str, Candidate] = {
    "ref6016": Candidate(ref6016, _sgd(20, 128, 0.01)),
    "ref9902": Candidate(ref9902, _sgd(20, 64, 0.01)),
    # notebook: batch, epochs, "small random rotation"; optimizer and lr unstated: SGD 0.01, 5 deg
    "ref13914": Candidate(ref13914, _sgd(20, 128, 0.01, rotate=5.0)),
    # notebook: "step LR schedule, light augmentation": lr 0.05, x0.1 at 50% and 75%, 7 deg
    "ref10224": Candidate(ref10224, _sgd(15, 64, 0.05, schedule="step", rotate=7.0)),
    "ref18448": Candidate(ref18448, _sgd(20, 128, 0.02, rotate=7.0)),
}

# Test accuracy (%) as reported in the notebooks: best epoch, picked on the test set.
REPORTED: dict[str, float] = {
    "ref6016": 99.10, "ref9902": 99.12, "ref13914": 99.43, "ref10224": 99.49, "ref18448": 99.43,
}


def reference(name: str) -> Candidate:
    try:
        return REFERENCES[name]
    except KeyError:
        raise KeyError(f"unknown reference {name!r}; known: {', '.join(REFERENCES)}") from None
