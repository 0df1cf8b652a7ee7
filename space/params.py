"""Analytic size of a net: parameter count, multiply-accumulates, and the spatial size after
every layer.

Both are pure arithmetic on the config, so the sampler can size nets by the thousand and invalid
configs are refused with a clear message before any module is built.
"""

from __future__ import annotations

from space.config import IN_CHANNELS, IN_SIZE, N_CLASSES, NetConfig

__all__ = ["ConfigError", "count_macs", "count_params", "spatial_sizes", "validate"]


class ConfigError(ValueError):
    """A config that describes no valid network (one-line message)."""


def spatial_sizes(cfg: NetConfig) -> list[int]:
    """Map side length after each conv block (after its pool, if any)."""
    size, out = IN_SIZE, []
    for i, c in enumerate(cfg.convs):
        size = size + 2 * c.pad - c.k + 1
        if size < 1:
            raise ConfigError(f"conv {i} ({c.k}x{c.k}, pad {c.pad}) shrinks the map below 1x1")
        if c.pool:
            if size < 2:
                raise ConfigError(f"max-pool after conv {i} on a {size}x{size} map")
            size //= 2
        out.append(size)
    return out


def validate(cfg: NetConfig) -> None:
    """Raise ConfigError unless `cfg` builds a net mapping (N,1,28,28) to (N,10)."""
    if not cfg.convs:
        raise ConfigError("a net needs at least one conv")
    cin = IN_CHANNELS
    for i, c in enumerate(cfg.convs):
        if c.out < 1 or c.k not in (1, 3) or c.pad not in (0, 1):
            raise ConfigError(f"conv {i}: out>=1, k in (1,3), pad in (0,1) required, got {c}")
        if c.act not in ("none", "relu", "relu_bn", "bn_relu"):
            raise ConfigError(f"conv {i}: unknown act {c.act!r}")
        if not 0.0 <= c.drop < 1.0:
            raise ConfigError(f"conv {i}: dropout rate {c.drop} outside [0, 1)")
        if c.sep and c.k != 3:
            raise ConfigError(f"conv {i}: a separable conv must be 3x3, got k={c.k}")
        if c.sep and cin == 1:
            raise ConfigError(f"conv {i}: a separable conv on 1 input channel is just a rank-1 "
                              "3x3 conv; use a plain one")
        cin = c.out
    sizes = spatial_sizes(cfg)
    h, last = cfg.head, cfg.convs[-1]
    if h.kind in ("flatten", "gap") and last.out != N_CLASSES:
        raise ConfigError(f"head {h.kind!r} needs the last conv to have {N_CLASSES} channels")
    if h.kind == "flatten" and sizes[-1] != 1:
        s = sizes[-1]
        raise ConfigError(f"head 'flatten' needs a 1x1 map, the body ends at {s}x{s}")
    if h.kind not in ("flatten", "gap", "gap_conv", "gap_linear"):
        raise ConfigError(f"unknown head {h.kind!r}")
    if h.hidden < 0 or (h.hidden and h.kind != "gap_linear"):
        raise ConfigError("head.hidden is only for gap_linear and must be >= 0")


def count_params(cfg: NetConfig) -> int:
    """Trainable parameters of build(cfg), by formula (equals sum(p.numel()))."""
    validate(cfg)
    n, cin = 0, IN_CHANNELS
    for c in cfg.convs:
        # conv weight; separable: depthwise k x k per input channel, then pointwise cin -> out
        n += cin * c.k * c.k + cin * c.out if c.sep else cin * c.out * c.k * c.k
        n += c.out if c.bias else 0  # conv bias (the pointwise conv's, if separable)
        n += 2 * c.out if c.act in ("relu_bn", "bn_relu") else 0  # BN affine weight + bias
        cin = c.out  # ReLU, max-pool and dropout have no parameters
    h = cfg.head
    if h.kind == "gap_conv":
        n += cin * N_CLASSES + (N_CLASSES if h.bias else 0)  # 1x1 conv after the pool
    elif h.kind == "gap_linear":
        if h.hidden:
            n += cin * h.hidden + (h.hidden if h.bias else 0)  # hidden linear
            cin = h.hidden
        n += cin * N_CLASSES + (N_CLASSES if h.bias else 0)  # output linear
    return n  # flatten / gap heads add nothing


def count_macs(cfg: NetConfig) -> int:
    """Forward multiply-accumulates per image of build(cfg)'s convs and linear layers, by formula.

    BN, ReLU, pooling and dropout are not counted (no MACs; memory-bound, seen in profiles instead),
    the same convention as torch.utils.flop_counter, which counts 2 FLOPs per MAC.
    """
    validate(cfg)
    n, cin, size = 0, IN_CHANNELS, IN_SIZE
    for c, after in zip(cfg.convs, spatial_sizes(cfg), strict=True):
        out_side = size + 2 * c.pad - c.k + 1  # the conv's output map, before its pool
        # both parts of a separable conv run on the output map (the padding is the depthwise's)
        per_pixel = cin * c.k * c.k + cin * c.out if c.sep else cin * c.out * c.k * c.k
        n += out_side * out_side * per_pixel
        cin, size = c.out, after
    h = cfg.head
    if h.kind == "gap_conv":
        n += cin * N_CLASSES
    elif h.kind == "gap_linear":
        n += cin * h.hidden + h.hidden * N_CLASSES if h.hidden else cin * N_CLASSES
    return n
