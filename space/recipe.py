"""How a candidate is trained: one frozen dataclass of training knobs, plus the search bounds.

Defaults and bounds live here together (airbench's ``hyp``) so one file answers "what does a trial
train with, and what may the search try". Pure data: the trainer in
``search.training.train`` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["BOUNDS", "TrainConfig"]

Optimizer = Literal["sgd", "adamw"]
Schedule = Literal["none", "onecycle", "step"]


@dataclass(frozen=True)
class TrainConfig:
    """Training knobs of one run. ``lr`` is the peak rate (OneCycle's max, step's start)."""

    epochs: int = 15  # passes over the training split
    batch_size: int = 128  # images per optimizer step
    optimizer: Optimizer = "sgd"  # SGD with momentum, or AdamW
    lr: float = 0.05  # peak learning rate (1/step)
    momentum: float = 0.9  # SGD momentum (unitless); unused by AdamW
    weight_decay: float = 5e-4  # L2 for SGD, decoupled decay for AdamW (1/step, times lr)
    schedule: Schedule = "onecycle"  # onecycle; step = x0.1 at 50% and 75% of epochs; none
    rotate: float = 0.0  # max random rotation, degrees (uniform in +-rotate)
    translate: float = 0.0  # max random shift, fraction of the image side (uniform in +-)
    scale: float = 0.0  # max random zoom: the factor is uniform in 1 +- scale
    label_smoothing: float = 0.0  # cross-entropy label smoothing (probability mass)
    # exponential moving average of the weights (and BN statistics) over about this many epochs,
    # validated and kept as the trained weights; 0 = off (the last step's weights)
    ema_epochs: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.scale < 1:
            raise ValueError(f"scale must be in [0, 1), got {self.scale}")
        if not self.ema_epochs >= 0:
            raise ValueError(f"ema_epochs must be >= 0, got {self.ema_epochs}")


# Search bounds, one entry per knob the sampler draws (units as in TrainConfig). Centred where nets
# learn within the first epochs (docs/benchmarks.md, "Recipes that learn"): constant-rate
# schedules, batch 512 and lr < 0.02 left most draws far from 95 % after one epoch of 50k images.
BOUNDS = {
    "lr_sgd": (0.02, 0.2),  # peak lr for SGD, log-uniform
    "lr_adamw": (1e-3, 1e-2),  # peak lr for AdamW, log-uniform
    "wd_sgd": (1e-5, 1e-3),  # SGD L2 weight decay, log-uniform
    "wd_adamw": (1e-3, 1e-1),  # AdamW decoupled decay, log-uniform
    # images per step = 2 ** log2_batch, an int draw: 32 .. 256 (trials drawn before 32 was in
    # the space hold a categorical batch_size instead, which decode still reads)
    "log2_batch": (5, 8),
    "schedule": ("onecycle", "step"),  # choices
    "optimizer": ("sgd", "adamw"),  # choices
    "rotate": (0.0, 10.0),  # degrees, uniform
    "translate": (0.0, 0.08),  # fraction of side, uniform
    "scale": (0.0, 0.15),  # zoom fraction, uniform
    "ema_epochs": (0.1, 2.0),  # EMA horizon in epochs, log-uniform, when "ema" is drawn True
    "label_smoothing": (0.0, 0.1),  # probability mass, uniform
    # architecture (see space.sampler)
    "stages": (2, 3),  # conv stages, a 2x2 max-pool between consecutive stages
    "convs": (1, 3),  # 3x3 convs per stage
    "size": (0.0, 1.0),  # position of the net's size on a log scale from smallest to budget
    "width": (0.25, 1.0),  # each 3x3 conv's width / the net's width scale, log-uniform
    "trans_ratio": (0.25, 1.0),  # 1x1 transition width / incoming width
    "hidden_ratio": (0.5, 2.0),  # hidden linear width / last conv width
    "drop": (0.0, 0.15),  # dropout rate after each body conv (0.3 killed 4-channel nets)
    "min_width": 4,  # channels: the narrowest conv the sampler makes
}
