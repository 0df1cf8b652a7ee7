"""build(cfg) -> nn.Module: a pure function of the config."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from space.config import IN_CHANNELS, N_CLASSES, Conv, NetConfig
from space.params import validate

__all__ = ["Net", "build"]


def _conv(cin: int, c: Conv) -> nn.Module:
    """A block's conv. A separable one is one module too (body.<i>.0.depthwise / .pointwise),
    so the layers after it keep their indices and a plain conv's keys stay body.<i>.0.*."""
    if not c.sep:
        return nn.Conv2d(cin, c.out, c.k, padding=c.pad, bias=c.bias)
    return nn.Sequential(OrderedDict(
        depthwise=nn.Conv2d(cin, cin, c.k, padding=c.pad, groups=cin, bias=False),
        pointwise=nn.Conv2d(cin, c.out, 1, bias=c.bias),
    ))


class Net(nn.Module):
    """Conv body (named blocks) followed by the head; returns logits."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        validate(cfg)
        self.cfg = cfg
        blocks, cin = [], IN_CHANNELS
        for c in cfg.convs:
            layers: list[nn.Module] = [_conv(cin, c)]
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
