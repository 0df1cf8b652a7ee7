"""space.params: the analytic count and map sizes, and the refusal of configs that build no net."""

from __future__ import annotations

import pytest

from space import (
    REFERENCES,
    ConfigError,
    Conv,
    Head,
    NetConfig,
    build,
    count_macs,
    count_params,
    spatial_sizes,
    validate,
)
from space.config import IN_SIZE, N_CLASSES


def numel(cfg: NetConfig) -> int:
    return sum(p.numel() for p in build(cfg).parameters())


def refused(cfg: NetConfig, *words: str) -> str:
    """Assert validate, count_params and build all refuse `cfg` with one line naming `words`."""
    for fn in (validate, count_params, build):
        with pytest.raises(ConfigError) as ei:
            fn(cfg)
        msg = str(ei.value)
        assert msg and "\n" not in msg
        for w in words:
            assert w in msg, (w, msg)
    assert isinstance(ei.value, ValueError)
    return msg


# ---------------------------------------------------------------- counting


def test_hand_counted_tiny_net():
    cfg = NetConfig(
        convs=(
            Conv(out=3, k=3, pad=1, bias=True, act="bn_relu", pool=True, drop=0.1),
            Conv(out=5, k=1, bias=False, act="relu"),
            Conv(out=6, k=3, pad=0, bias=True, act="relu_bn", drop=0.2, drop2d=True),
        ),
        head=Head(kind="gap_linear", hidden=7, hidden_relu=True, bias=True),
    )
    expected = (
        (1 * 3 * 3 * 3 + 3 + 2 * 3)  # conv 1->3 3x3: weight + bias + BN(3) weight and bias
        + (3 * 5 * 1 * 1)  # conv 3->5 1x1, no bias, ReLU only: weight
        + (5 * 6 * 3 * 3 + 6 + 2 * 6)  # conv 5->6 3x3: weight + bias + BN(6)
        + (6 * 7 + 7)  # Linear(6, 7): weight + bias (ReLU, pool and dropout are free)
        + (7 * N_CLASSES + N_CLASSES)  # Linear(7, 10): weight + bias
    )
    assert count_params(cfg) == expected
    assert numel(cfg) == expected


def test_hand_counted_separable_net():
    cfg = NetConfig(
        convs=(
            Conv(out=4, k=3, pad=1, pool=True),  # 28 -> 14
            Conv(out=6, k=3, sep=True),  # 14 -> 12
            Conv(out=5, k=3, pad=1, bias=False, act="bn_relu", sep=True),  # 12 -> 12
        ),
        head=Head(kind="gap_linear"),
    )
    expected = (
        (1 * 4 * 9 + 4 + 2 * 4)  # plain conv 1->4: weight + bias + BN(4)
        + (4 * 9 + 4 * 6 + 6 + 2 * 6)  # depthwise 4 x 3x3, pointwise 4->6 + its bias, BN(6)
        + (6 * 9 + 6 * 5 + 2 * 5)  # depthwise 6 x 3x3, pointwise 6->5 without bias, BN(5)
        + (5 * N_CLASSES + N_CLASSES)  # Linear(5, 10)
    )
    assert count_params(cfg) == expected == numel(cfg)
    macs = (
        28 * 28 * 1 * 4 * 9  # plain conv at 28x28
        + 12 * 12 * (4 * 9 + 4 * 6)  # depthwise and pointwise both at the 12x12 output
        + 12 * 12 * (6 * 9 + 6 * 5)
        + 5 * N_CLASSES
    )
    assert count_macs(cfg) == macs == flop_counter_macs(cfg)


def test_separable_is_cheaper_than_plain_from_two_channels_out():
    # cin*(9+out) <= 9*cin*out once out >= 2: what keeps the sampler's floor a plain net
    for cin, out in [(2, 2), (4, 4), (4, 32), (16, 8), (64, 64)]:
        plain = NetConfig((Conv(cin), Conv(out)), Head())
        sep = NetConfig((Conv(cin), Conv(out, sep=True)), Head())
        assert count_params(sep) < count_params(plain)
        assert count_macs(sep) < count_macs(plain)


@pytest.mark.parametrize(
    ("head", "head_params"),
    [
        (Head(kind="gap"), 0),  # average pool and flatten only
        (Head(kind="gap_conv", bias=False), 4 * N_CLASSES),  # 1x1 conv 4->10, no bias
        (Head(kind="gap_conv"), 4 * N_CLASSES + N_CLASSES),  # 1x1 conv 4->10 with bias
        (Head(kind="gap_linear"), 4 * N_CLASSES + N_CLASSES),  # Linear(4, 10)
        (Head(kind="gap_linear", bias=False), 4 * N_CLASSES),  # Linear(4, 10), no bias
        (Head(kind="gap_linear", hidden=3), (4 * 3 + 3) + (3 * N_CLASSES + N_CLASSES)),
    ],
)
def test_head_terms(head, head_params):
    body = (Conv(out=4, k=3, act="none", bias=False),)  # 1*4*9 weights
    if head.kind == "gap":
        body += (Conv(out=N_CLASSES, k=1, act="none", bias=False),)  # 4*10 weights
    cfg = NetConfig(body, head)
    body_params = 1 * 4 * 9 + (4 * N_CLASSES if head.kind == "gap" else 0)
    assert count_params(cfg) == body_params + head_params == numel(cfg)


def test_flatten_head_adds_nothing():
    # 28 -3x3-> 26 -pool-> 13 -3x3-> 11 -pool-> 5 -3x3-> 3 -pool-> 1, ending in 10 channels
    cfg = NetConfig(
        (Conv(2, pool=True), Conv(2, pool=True), Conv(N_CLASSES, pool=True, act="none")),
        Head(kind="flatten"),
    )
    assert spatial_sizes(cfg)[-1] == 1
    expected = (1 * 2 * 9 + 2 + 2 * 2) + (2 * 2 * 9 + 2 + 2 * 2) + (2 * N_CLASSES * 9 + N_CLASSES)
    assert count_params(cfg) == expected == numel(cfg)


# ---------------------------------------------------------------- map sizes


def test_spatial_sizes_ref10224():
    # the 10224 net, block by block (3x3 pad 1 keeps the side, 3x3 pad 0 takes 2, 1x1 keeps it,
    # a 2x2 max-pool halves it):
    expected = [
        28,  # c 1->10 3x3 p1: 28
        14,  # c 10->16 3x3 p1: 28, pool -> 14
        14,  # t 16->8 1x1
        14,  # c 8->16 3x3 p1
        14,  # c 16->16 3x3 p1
        7,  # c 16->16 3x3 p1: 14, pool -> 7
        7,  # t 16->8 1x1
        5,  # c 8->10 3x3 p0: 7 - 2
        3,  # c 10->16 3x3 p0: 5 - 2
        3,  # t 16->10 1x1, then the gap head
    ]
    assert spatial_sizes(REFERENCES["ref10224"].net) == expected


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("pad", [0, 1])
@pytest.mark.parametrize("pool", [False, True])
def test_spatial_size_formula(k, pad, pool):
    side = IN_SIZE + 2 * pad - k + 1
    cfg = NetConfig((Conv(N_CLASSES, k=k, pad=pad, pool=pool),), Head(kind="gap"))
    assert spatial_sizes(cfg) == [side // 2 if pool else side]


def test_spatial_sizes_match_the_built_net():
    import torch

    for name, cand in REFERENCES.items():
        net = build(cand.net).eval()
        x = torch.zeros(1, 1, IN_SIZE, IN_SIZE)
        sides = []
        for block in net.body:
            x = block(x)
            sides.append(x.shape[-1])
        assert sides == spatial_sizes(cand.net), name


# ---------------------------------------------------------------- refusals


def test_empty_convs_refused():
    refused(NetConfig(convs=()), "at least one conv")


def test_map_shrinking_below_1x1_refused():
    # 14 unpadded 3x3 convs take 28 -> 0; 13 leave a 2x2 map and are fine
    ok = NetConfig(tuple(Conv(4, act="relu") for _ in range(13)) + (Conv(N_CLASSES, k=1),),
                   Head(kind="gap"))
    assert spatial_sizes(ok)[-1] == IN_SIZE - 2 * 13
    bad = NetConfig(tuple(Conv(4, act="relu") for _ in range(14)), Head())
    refused(bad, "conv 13", "below 1x1")


def test_pool_on_1x1_map_refused():
    # 28 -> 26 -pool-> 13 -> 11 -pool-> 5 -> 3 -pool-> 1, then a 1x1 conv pooling a 1x1 map
    convs = (Conv(4, pool=True), Conv(4, pool=True), Conv(4, pool=True), Conv(4, k=1, pool=True))
    refused(NetConfig(convs, Head()), "max-pool", "conv 3", "1x1")


def test_flatten_needs_a_1x1_map():
    convs = (Conv(4, pool=True), Conv(4, pool=True), Conv(N_CLASSES))  # ends at 3x3
    refused(NetConfig(convs, Head(kind="flatten")), "flatten", "3x3")


@pytest.mark.parametrize("kind", ["gap", "flatten"])
def test_gap_and_flatten_need_10_channels(kind):
    convs = (Conv(4, pool=True), Conv(4, pool=True), Conv(N_CLASSES + 1, pool=True))  # 1x1
    refused(NetConfig(convs, Head(kind=kind)), kind, str(N_CLASSES), "channels")


@pytest.mark.parametrize(
    ("conv", "words"),
    [
        (Conv(4, k=5), ["conv 1", "k in (1,3)"]),
        (Conv(4, k=2), ["conv 1", "k in (1,3)"]),
        (Conv(4, pad=2), ["conv 1", "pad in (0,1)"]),
        (Conv(4, pad=-1), ["conv 1", "pad in (0,1)"]),
        (Conv(0), ["conv 1", "out>=1"]),
        (Conv(4, drop=-0.1), ["conv 1", "dropout", "-0.1"]),
        (Conv(4, drop=1.0), ["conv 1", "dropout", "1.0"]),
        (Conv(4, drop=float("nan")), ["conv 1", "dropout"]),
        (Conv(4, act="gelu"), ["conv 1", "gelu"]),  # type: ignore[arg-type]
    ],
)
def test_bad_conv_fields_refused(conv, words):
    refused(NetConfig((Conv(4), conv), Head()), *words)


@pytest.mark.parametrize(
    ("convs", "words"),
    [
        ((Conv(4), Conv(6, k=1, sep=True)), ["conv 1", "separable", "3x3", "k=1"]),
        ((Conv(4, sep=True),), ["conv 0", "1 input channel", "rank-1"]),  # MNIST is grey-scale
        ((Conv(1), Conv(4, sep=True)), ["conv 1", "1 input channel", "rank-1"]),
    ],
)
def test_bad_separable_conv_refused(convs, words):
    refused(NetConfig(convs, Head()), *words)


@pytest.mark.parametrize(
    ("head", "words"),
    [
        (Head(kind="softmax"), ["unknown head", "softmax"]),  # type: ignore[arg-type]
        (Head(kind="gap_conv", hidden=8), ["hidden", "gap_linear"]),
        (Head(kind="gap_linear", hidden=-1), ["hidden", ">= 0"]),
    ],
)
def test_bad_head_refused(head, words):
    refused(NetConfig((Conv(4),), head), *words)


def test_every_reference_validates():
    for cand in REFERENCES.values():
        validate(cand.net)  # raises on failure
        assert count_params(cand.net) == numel(cand.net)


# ---------------------------------------------------------------- multiply-accumulates


def flop_counter_macs(cfg: NetConfig) -> int:
    """MACs of one image through build(cfg), as torch's own FLOP counter sees them (2 per MAC)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    net = build(cfg).eval()
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        net(torch.zeros(1, 1, IN_SIZE, IN_SIZE))
    return fc.get_total_flops() // 2


def test_macs_of_a_hand_counted_net():
    cfg = NetConfig((Conv(4, pad=1, pool=True), Conv(N_CLASSES, k=1)), Head(kind="gap"))
    # 28x28 output of a padded 3x3 conv 1->4, then 1x1 conv 4->10 on the pooled 14x14 map
    assert count_macs(cfg) == 28 * 28 * 1 * 4 * 9 + 14 * 14 * 4 * N_CLASSES
    assert flop_counter_macs(cfg) == count_macs(cfg)


def test_macs_match_torch_flop_counter_on_references_and_draws(draws):
    cfgs = [c.net for c in REFERENCES.values()]
    for budget in (2000, 20000):
        cfgs += [cand.net for _, cand in draws(budget, n=120)]
    assert len(cfgs) >= 245
    assert sum(c.sep for cfg in cfgs for c in cfg.convs) > 100  # separable convs are drawn
    for cfg in cfgs:
        assert count_macs(cfg) == flop_counter_macs(cfg), cfg
