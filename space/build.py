"""build(cfg) -> nn.Module: a pure function of the config."""

from __future__ import annotations

import torch
from torch import nn

from space.config import IN_CHANNELS, N_CLASSES, NetConfig
from space.params import validate

__all__ = ["Net", "build"]


class Net(nn.Module):
    """Conv body (named blocks) followed by the head; returns logits."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        validate(cfg)
        self.cfg = cfg
        blocks, cin = [], IN_CHANNELS
        for c in cfg.convs:
            layers: list[nn.Module] = [nn.Conv2d(cin, c.out, c.k, padding=c.pad, bias=c.bias)]
            if c.act == "relu":
                layers += [nn.ReLU()]
            elif c.act == "relu_bn":
                layers += [nn.ReLU(), nn.BatchNorm2d(c.out)]
            elif c.act == "bn_relu":
                layers += [nn.BatchNorm2d(c.out), nn.ReLU()]
            if c.pool:
                layers += [nn.MaxPool2d(2)]
            if c.drop > 0:
                layers += [nn.Dropout2d(c.drop) if c.drop2d else nn.Dropout(c.drop)]
            blocks.append(nn.Sequential(*layers))
            cin = c.out
        self.body = nn.Sequential(*blocks)
        h = cfg.head
        head: list[nn.Module] = [] if h.kind == "flatten" else [nn.AdaptiveAvgPool2d(1)]
        if h.kind == "gap_conv":
            head += [nn.Conv2d(cin, N_CLASSES, 1, bias=h.bias)]
        head += [nn.Flatten()]
        if h.kind == "gap_linear":
            if h.hidden:
                head += [nn.Linear(cin, h.hidden, bias=h.bias)]
                head += [nn.ReLU()] if h.hidden_relu else []
                cin = h.hidden
            head += [nn.Linear(cin, N_CLASSES, bias=h.bias)]
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def build(cfg: NetConfig) -> Net:
    return Net(cfg)
