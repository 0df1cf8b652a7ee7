"""What a candidate network is: frozen dataclasses whose fields are exactly the
architectural choices.

A net is a sequence of conv blocks followed by a head. Each block is, in this order:
conv -> activation (none / ReLU / ReLU->BN / BN->ReLU) -> optional 2x2 max-pool -> optional dropout.
A 3x3 conv may be depthwise-separable (``sep``): a depthwise 3x3 (one filter per input channel,
no bias) then a pointwise 1x1 to ``out`` channels that carries the block's bias; the rest of the
block is the same.
Pool-then-dropout is the only order: channel-wise dropout commutes with max-pool exactly, and the
reference nets that use element-wise dropout pool first, so one order expresses all of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["IN_CHANNELS", "IN_SIZE", "N_CLASSES", "Act", "Conv", "Head", "HeadKind", "NetConfig"]

IN_CHANNELS = 1  # MNIST is grey-scale
IN_SIZE = 28  # pixels per side
N_CLASSES = 10

Act = Literal["none", "relu", "relu_bn", "bn_relu"]
# flatten:    the body already ends in N_CLASSES channels at 1x1 spatial ("final conv down to 1x1")
# gap:        the body ends in N_CLASSES channels (e.g. a 1x1 conv); global avg pool -> logits
# gap_conv:   global average pool, then a 1x1 conv to N_CLASSES
# gap_linear: global average pool, then [Linear(C, hidden)] and Linear(., N_CLASSES)
HeadKind = Literal["flatten", "gap", "gap_conv", "gap_linear"]


@dataclass(frozen=True)
class Conv:
    out: int  # output channels
    k: int = 3  # kernel size: 3 (features) or 1 (transition / classifier)
    pad: int = 0  # zero padding: 0 shrinks the map by k-1; 1 keeps a 3x3 conv's map size
    bias: bool = True  # conv bias (redundant right before BN, so nets often drop it)
    act: Act = "relu_bn"  # what follows the conv
    pool: bool = False  # 2x2 max-pool (stride 2, floor) after the activation
    drop: float = 0.0  # dropout rate after the pool; 0 = no dropout layer
    drop2d: bool = False  # channel-wise (Dropout2d) instead of element-wise
    # depthwise 3x3 + pointwise 1x1 instead of a full 3x3: cin*(9+out) weights, not cin*out*9;
    # k=3 only, and not on one input channel (there it would be a rank-1 3x3 conv)
    sep: bool = False


@dataclass(frozen=True)
class Head:
    kind: HeadKind = "gap_linear"
    hidden: int = 0  # gap_linear only: width of a hidden linear layer, 0 = none
    hidden_relu: bool = False  # ReLU between the two linear layers
    bias: bool = True  # bias of the head's own conv/linear layers


@dataclass(frozen=True)
class NetConfig:
    convs: tuple[Conv, ...]
    head: Head = Head()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetConfig:
        return cls(convs=tuple(Conv(**c) for c in d["convs"]), head=Head(**d["head"]))
