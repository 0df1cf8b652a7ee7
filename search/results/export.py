"""A trial as a standalone PyTorch script: code generated layer by layer from its NetConfig.

The emitted file is what a person would write by hand: an ``nn.Module`` with named layers
(``conv1``, ``bn1``, ..., ``fc``; a separable block ``i`` has ``dw<i>`` and ``pw<i>`` instead of
``conv<i>``), the trial's training hyperparameters as constants, torchvision
data loading, a plain training loop and a test evaluation. It imports only torch, torchvision and
the standard library. Weights are written in the emitted module's key naming; ``key_map`` relates
them to the in-package ``Net`` (``body.0.0.weight`` -> ``conv1.weight``), and :func:`verify` loads
them into the emitted class and compares logits before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from search.results.export_template import TEMPLATE
from search.training.data import MEAN, STD
from space import Candidate, build, count_params, describe, spatial_sizes
from space.config import IN_CHANNELS, N_CLASSES, NetConfig

__all__ = ["ScriptInfo", "convert_state_dict", "key_map", "render", "verify"]

_PARAM_LAYERS = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)


@dataclass(frozen=True)
class ScriptInfo:
    """What the script's docstring and defaults say about where it came from."""

    study: str
    trial: int
    val_acc: float | None  # % at the end of the search's training
    seed: int = 0
    stem: str = "model"  # file stem of the script, e.g. trial_12: names the retrained weights


def _net_code(cfg: NetConfig) -> tuple[list[str], list[str], list[str]]:
    """(__init__ lines, forward lines, parametrised layer names in the in-package Net's order)."""
    init, fwd, names = [], [], []
    cin = IN_CHANNELS
    for i, (c, side) in enumerate(zip(cfg.convs, spatial_sizes(cfg), strict=True), start=1):
        pad, cb = (f", padding={c.pad}" if c.pad else ""), ("" if c.bias else ", bias=False")
        if c.sep:  # depthwise k x k (one filter per channel), then pointwise 1x1 with the bias
            init.append(f"self.dw{i} = nn.Conv2d({cin}, {cin}, {c.k}{pad}, groups={cin}, "
                        "bias=False)")
            init.append(f"self.pw{i} = nn.Conv2d({cin}, {c.out}, 1{cb})")
            names += [f"dw{i}", f"pw{i}"]
            x = f"self.pw{i}(self.dw{i}(x))"
        else:
            init.append(f"self.conv{i} = nn.Conv2d({cin}, {c.out}, {c.k}{pad}{cb})")
            names.append(f"conv{i}")
            x = f"self.conv{i}(x)"
        if c.act in ("relu_bn", "bn_relu"):
            init.append(f"self.bn{i} = nn.BatchNorm2d({c.out})")
            names.append(f"bn{i}")
        if c.act == "relu":
            x = f"F.relu({x})"
        elif c.act == "relu_bn":
            x = f"self.bn{i}(F.relu({x}))"
        elif c.act == "bn_relu":
            x = f"F.relu(self.bn{i}({x}))"
        lines = [f"x = {x}"]
        if c.pool:
            lines.append("x = F.max_pool2d(x, 2)")
        if c.drop > 0:
            fn = "dropout2d" if c.drop2d else "dropout"
            rate = "DROPOUT" if _one_dropout(cfg) else repr(c.drop)
            lines.append(f"x = F.{fn}(x, p={rate}, training=self.training)")
        lines[-1] += f"  # {c.out} x {side} x {side}"
        fwd += lines
        cin = c.out
    h = cfg.head
    nb = "" if h.bias else ", bias=False"
    if h.kind == "flatten":
        fwd.append("x = x.flatten(1)  # the body ends at 10 x 1 x 1")
    elif h.kind == "gap":
        fwd.append("x = F.adaptive_avg_pool2d(x, 1).flatten(1)  # global average pool")
    elif h.kind == "gap_conv":
        init.append(f"self.conv_out = nn.Conv2d({cin}, {N_CLASSES}, 1{nb})")
        names.append("conv_out")
        fwd.append("x = self.conv_out(F.adaptive_avg_pool2d(x, 1)).flatten(1)")
    else:  # gap_linear
        fwd.append("x = F.adaptive_avg_pool2d(x, 1).flatten(1)  # global average pool")
        if h.hidden:
            init.append(f"self.fc1 = nn.Linear({cin}, {h.hidden}{nb})")
            init.append(f"self.fc2 = nn.Linear({h.hidden}, {N_CLASSES}{nb})")
            names += ["fc1", "fc2"]
            fwd.append("x = F.relu(self.fc1(x))" if h.hidden_relu else "x = self.fc1(x)")
            fwd.append("x = self.fc2(x)")
        else:
            init.append(f"self.fc = nn.Linear({cin}, {N_CLASSES}{nb})")
            names.append("fc")
            fwd.append("x = self.fc(x)")
    return init, fwd, names


def _one_dropout(cfg: NetConfig) -> float | None:
    """The dropout rate when every block that drops uses the same one (sampled nets do)."""
    rates = {c.drop for c in cfg.convs if c.drop > 0}
    return rates.pop() if len(rates) == 1 else None


def key_map(cfg: NetConfig) -> dict[str, str]:
    """In-package module path -> emitted layer name, e.g. {'body.0.0': 'conv1', 'head.2': 'fc'}."""
    ours = [n for n, m in build(cfg).named_modules() if isinstance(m, _PARAM_LAYERS)]
    _, _, emitted = _net_code(cfg)
    if len(ours) != len(emitted):  # a new layer kind in space.build that this module lacks
        raise RuntimeError(f"export knows {len(emitted)} layers, the Net has {len(ours)}")
    return dict(zip(ours, emitted, strict=True))


def convert_state_dict(
    cfg: NetConfig, state: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """A state_dict of build(cfg) with keys renamed to the emitted module's layer names."""
    mapping = key_map(cfg)
    out = {}
    for key, value in state.items():
        prefix, _, leaf = key.rpartition(".")
        if prefix not in mapping:
            raise KeyError(f"weights hold {key!r}, which the net of this config does not have")
        out[f"{mapping[prefix]}.{leaf}"] = value
    return out


def _constants(cand: Candidate, params: int, seed: int) -> str:
    t = cand.train
    sgd = t.optimizer == "sgd"
    rows = [
        ("PARAMS", params, "trainable parameters; checked when the script starts"),
        ("EPOCHS", t.epochs, "passes over the training set"),
        ("BATCH_SIZE", t.batch_size, "images per optimizer step"),
        ("LR", t.lr, "peak learning rate" if t.schedule == "onecycle" else "learning rate"),
        *([("MOMENTUM", t.momentum, "SGD momentum")] if sgd else []),
        ("WEIGHT_DECAY", t.weight_decay, "L2 penalty" if sgd else "decoupled weight decay"),
        ("ROTATE", t.rotate, "max random rotation, degrees"),
        ("TRANSLATE", t.translate, "max random shift, fraction of the image side"),
        *([("SCALE", t.scale, "max random zoom: the factor is uniform in 1 +- SCALE")]
          if t.scale else []),
        *([("EMA_EPOCHS", t.ema_epochs, "the kept weights are their moving average over about "
            "this many epochs")] if t.ema_epochs else []),
        ("LABEL_SMOOTHING", t.label_smoothing, "cross-entropy label smoothing"),
        ("SEED", seed, "the seed the search trained this trial with"),
        *([("DROPOUT", _one_dropout(cand.net), "dropout rate in the blocks that have one")]
          if _one_dropout(cand.net) else []),
        ("MEAN", MEAN, "pixel mean of the MNIST training images (0..1 scale)"),
        ("STD", STD, "pixel standard deviation, same scale"),
    ]
    return "\n".join(f"{name} = {value!r}  # {comment}" for name, value, comment in rows)


def _optimizer_code(cand: Candidate) -> str:
    if cand.train.optimizer == "sgd":
        return ("torch.optim.SGD(\n"
                "        model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY\n"
                "    )")
    return "torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)"


def _scheduler_code(cand: Candidate) -> tuple[str, str]:
    """(lines that make the scheduler, the loop's step call) for the trial's schedule."""
    s, step = cand.train.schedule, "\n            scheduler.step()"
    if s == "onecycle":
        return ("# one-cycle schedule over all steps, stepped after every batch\n"
                "    scheduler = torch.optim.lr_scheduler.OneCycleLR(\n"
                "        optimizer, max_lr=LR, total_steps=epochs * len(loader), "
                "cycle_momentum=False\n"
                "    )"), step
    if s == "step":
        return ("# step schedule: x0.1 at 50% and 75% of all steps, stepped after every batch\n"
                "    steps = epochs * len(loader)\n"
                "    scheduler = torch.optim.lr_scheduler.MultiStepLR(\n"
                "        optimizer, milestones=[steps // 2, steps * 3 // 4], gamma=0.1\n"
                "    )"), step
    return "# constant learning rate: no scheduler", ""


def _augment_code(cand: Candidate) -> str:
    t = cand.train
    if t.rotate == 0 and t.translate == 0 and t.scale == 0:
        return "augment = []  # the trial trained without augmentation"
    zoom = "\n            scale=(1 - SCALE, 1 + SCALE)," if t.scale else ""
    return ("augment = [\n"
            "        transforms.RandomAffine(\n"
            f"            degrees=ROTATE, translate=(TRANSLATE, TRANSLATE),{zoom}\n"
            "            interpolation=transforms.InterpolationMode.BILINEAR,\n"
            "        )\n"
            "    ]")


def _ema_code(cand: Candidate) -> tuple[str, str, str]:
    """(making the weight average, its update after each step, keeping it at the end): the
    trial's weights are an exponential moving average when its recipe says so."""
    if not cand.train.ema_epochs:
        return "", "", ""
    make = ("\n    # the kept weights and BN statistics: their average over ~EMA_EPOCHS epochs\n"
            "    decay = max(0.0, 1 - 1 / (EMA_EPOCHS * len(loader)))\n"
            "    ema = torch.optim.swa_utils.AveragedModel(\n"
            "        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(decay),\n"
            "        use_buffers=True,\n"
            "    )")
    end = "\n    model.load_state_dict(ema.module.state_dict())"
    return make, "\n            ema.update_parameters(model)", end


def render(cand: Candidate, info: ScriptInfo) -> str:
    """The whole standalone script for `cand` as Python source text."""
    init, fwd, _ = _net_code(cand.net)
    params = count_params(cand.net)
    acc = "unknown" if info.val_acc is None else f"{info.val_acc:.2f} %"
    opt = "SGD" if cand.train.optimizer == "sgd" else "AdamW"
    make_scheduler, scheduler_step = _scheduler_code(cand)
    make_ema, ema_step, ema_end = _ema_code(cand)
    augment = _augment_code(cand)
    return TEMPLATE.substitute(
        study=info.study, trial=info.trial, arch=describe(cand.net), params=f"{params:,}",
        val_acc=acc, stem=info.stem, optimizer=opt, schedule=cand.train.schedule,
        constants=_constants(cand, params, info.seed),
        init="\n".join(f"        {line}" for line in init),
        forward="\n".join(f"        {line}" for line in fwd),
        augment=augment, make_optimizer=_optimizer_code(cand),
        make_scheduler=make_scheduler, scheduler_step=scheduler_step,
        make_ema=make_ema, ema_step=ema_step, ema_end=ema_end,
        # transforms only where the recipe augments: the script imports nothing it does not use
        torchvision="datasets, transforms" if "transforms." in augment else "datasets",
    )


def verify(source: str, cand: Candidate, state: dict[str, torch.Tensor]) -> None:
    """Check the emitted module against build(cand.net) carrying `state` (the trial's weights):
    same parameter count, strict load of the converted weights, equal logits on a fixed batch.

    Raises RuntimeError: a mismatch is a bug in this module, never the user's doing.
    """
    ns: dict[str, object] = {"__name__": "exported_trial"}  # not __main__: main() stays idle
    exec(compile(source, "<exported script>", "exec"), ns)
    theirs: nn.Module = ns["Net"]()  # type: ignore[operator]
    ours = build(cand.net)
    ours.load_state_dict(state)
    theirs.load_state_dict(convert_state_dict(cand.net, state))  # strict: same keys and shapes
    n = sum(p.numel() for p in theirs.parameters())
    if n != count_params(cand.net) or n != ns["PARAMS"]:
        raise RuntimeError(f"exported module has {n} params, the config {count_params(cand.net)}")
    x = torch.randn(8, IN_CHANNELS, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = ours.eval()(x), theirs.eval()(x)
    if not torch.allclose(a, b, rtol=1e-5, atol=1e-5, equal_nan=True):
        raise RuntimeError("exported module's logits differ from the in-package Net's")
