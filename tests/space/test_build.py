"""space.build: every head and activation builds, block layer order, and build is pure."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from space import REFERENCES, ConfigError, Conv, Head, Net, NetConfig, build, count_params
from space.config import IN_CHANNELS, IN_SIZE, N_CLASSES

ACTS = ["none", "relu", "relu_bn", "bn_relu"]

# 28 -3x3-> 26 -pool-> 13 -3x3-> 11 -pool-> 5 -3x3-> 3 -pool-> 1
_TO_1X1 = (Conv(6, pool=True), Conv(6, pool=True))
HEADS = {
    "flatten": NetConfig(_TO_1X1 + (Conv(N_CLASSES, pool=True, act="none"),), Head("flatten")),
    "gap": NetConfig((Conv(6), Conv(N_CLASSES, k=1, act="none")), Head("gap")),
    "gap_conv": NetConfig((Conv(6),), Head("gap_conv")),
    "gap_linear": NetConfig((Conv(6),), Head("gap_linear")),
    "gap_linear_hidden": NetConfig((Conv(6),), Head("gap_linear", hidden=5, hidden_relu=True)),
}


def forward_backward(net: nn.Module) -> None:
    x = torch.randn(2, IN_CHANNELS, IN_SIZE, IN_SIZE)
    out = net.train()(x)
    assert out.shape == (2, N_CLASSES)
    assert torch.isfinite(out).all()
    out.sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    with torch.no_grad():
        assert net.eval()(x[:1]).shape == (1, N_CLASSES)


def types(block: nn.Module) -> list[type]:
    return [type(m) for m in block]


@pytest.mark.parametrize("name", list(HEADS))
def test_every_head_builds(name):
    torch.manual_seed(0)
    cfg = HEADS[name]
    net = build(cfg)
    assert isinstance(net, Net) and net.cfg == cfg
    assert sum(p.numel() for p in net.parameters()) == count_params(cfg)
    forward_backward(net)


def test_head_layers():
    head = build(HEADS["gap_linear_hidden"]).head
    assert types(head) == [nn.AdaptiveAvgPool2d, nn.Flatten, nn.Linear, nn.ReLU, nn.Linear]
    assert (head[2].in_features, head[2].out_features) == (6, 5)
    assert (head[4].in_features, head[4].out_features) == (5, N_CLASSES)
    assert types(build(HEADS["flatten"]).head) == [nn.Flatten]
    conv_head = build(NetConfig((Conv(6),), Head("gap_conv", bias=False))).head
    assert types(conv_head) == [nn.AdaptiveAvgPool2d, nn.Conv2d, nn.Flatten]
    assert conv_head[1].bias is None and conv_head[1].kernel_size == (1, 1)
    no_relu = build(NetConfig((Conv(6),), Head("gap_linear", hidden=5))).head
    assert nn.ReLU not in types(no_relu)


@pytest.mark.parametrize("act", ACTS)
def test_every_act_builds(act):
    torch.manual_seed(1)
    cfg = NetConfig((Conv(4, act=act, pad=1, pool=True), Conv(8, act=act)), Head("gap_linear"))
    net = build(cfg)
    assert sum(p.numel() for p in net.parameters()) == count_params(cfg)
    forward_backward(net)


@pytest.mark.parametrize(
    ("act", "layers"),
    [
        ("none", [nn.Conv2d]),
        ("relu", [nn.Conv2d, nn.ReLU]),
        ("relu_bn", [nn.Conv2d, nn.ReLU, nn.BatchNorm2d]),
        ("bn_relu", [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]),
    ],
)
def test_activation_order(act, layers):
    net = build(NetConfig((Conv(4, act=act),), Head()))
    assert types(net.body[0]) == layers


def test_block_order_conv_act_pool_dropout():
    cfg = NetConfig((Conv(4, act="bn_relu", pool=True, drop=0.2, bias=False),), Head())
    block = build(cfg).body[0]
    assert types(block) == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.Dropout]
    assert block[0].bias is None
    assert block[3].kernel_size == 2 and block[4].p == pytest.approx(0.2)


@pytest.mark.parametrize(("drop2d", "cls"), [(True, nn.Dropout2d), (False, nn.Dropout)])
def test_dropout_kind(drop2d, cls):
    block = build(NetConfig((Conv(4, drop=0.3, drop2d=drop2d),), Head())).body[0]
    drops = [m for m in block if isinstance(m, (nn.Dropout, nn.Dropout2d))]
    assert [type(m) for m in drops] == [cls]
    assert drops[0].p == pytest.approx(0.3)


def test_no_dropout_layer_at_rate_zero():
    block = build(NetConfig((Conv(4, drop=0.0, drop2d=True),), Head())).body[0]
    assert not any(isinstance(m, (nn.Dropout, nn.Dropout2d)) for m in block)


def test_conv_geometry():
    cfg = NetConfig((Conv(5, k=3, pad=1), Conv(7, k=1, bias=False)), Head())
    c0, c1 = (blk[0] for blk in build(cfg).body)
    assert (c0.in_channels, c0.out_channels, c0.kernel_size, c0.padding) == (1, 5, (3, 3), (1, 1))
    assert (c1.in_channels, c1.out_channels, c1.kernel_size, c1.padding) == (5, 7, (1, 1), (0, 0))
    assert c0.bias is not None and c1.bias is None


def test_build_is_pure():
    cfg = REFERENCES["ref10224"].net
    torch.manual_seed(123)
    a = build(cfg).state_dict()
    torch.manual_seed(123)
    b = build(cfg).state_dict()
    torch.manual_seed(124)
    c = build(cfg).state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)  # the seed is what differs


def test_build_refuses_invalid_config():
    with pytest.raises(ConfigError):
        build(NetConfig((Conv(4, k=5),), Head()))


# ---------------------------------------------------------------- separable convs


def test_separable_block_layers():
    cfg = NetConfig((Conv(4, pad=1), Conv(6, pad=1, act="bn_relu", pool=True, drop=0.1,
                                          sep=True)), Head())
    block = build(cfg).body[1]
    assert types(block) == [nn.Sequential, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.Dropout]
    dw, pw = block[0].depthwise, block[0].pointwise
    assert (dw.in_channels, dw.out_channels, dw.kernel_size, dw.padding) == (4, 4, (3, 3), (1, 1))
    assert dw.groups == 4 and dw.bias is None  # one 3x3 filter per input channel
    assert (pw.in_channels, pw.out_channels, pw.kernel_size) == (4, 6, (1, 1))
    assert pw.bias is not None  # the block's bias
    no_bias = build(NetConfig((Conv(4), Conv(6, sep=True, bias=False)), Head())).body[1][0]
    assert no_bias.pointwise.bias is None


def test_plain_blocks_keep_their_keys_next_to_separable_ones():
    # stored weights of nets without separable convs name their convs body.<i>.0
    plain = NetConfig((Conv(4), Conv(6), Conv(8, k=1)), Head())
    assert [k for k in build(plain).state_dict() if k.split(".")[2] == "0"] == [
        "body.0.0.weight", "body.0.0.bias", "body.1.0.weight", "body.1.0.bias",
        "body.2.0.weight", "body.2.0.bias"]
    mixed = NetConfig((Conv(4), Conv(6, sep=True), Conv(8, k=1)), Head())
    keys = set(build(mixed).state_dict())
    assert {"body.1.0.depthwise.weight", "body.1.0.pointwise.weight",
            "body.1.0.pointwise.bias"} <= keys
    assert set(build(plain).state_dict()) - keys == {"body.1.0.weight", "body.1.0.bias"}


@pytest.mark.parametrize("act", ACTS)
def test_separable_net_forward_and_backward(act):
    torch.manual_seed(2)
    cfg = NetConfig((Conv(4, act=act, pad=1, pool=True), Conv(8, act=act, sep=True),
                     Conv(8, act=act, pad=1, sep=True)), Head("gap_linear"))
    net = build(cfg)
    assert sum(p.numel() for p in net.parameters()) == count_params(cfg)
    forward_backward(net)  # (N, 10) logits, finite gradients for every parameter
