"""Train one model with one :class:`~space.recipe.TrainConfig` on device-resident MNIST.

The trainer knows nothing about Optuna: a caller observes progress through ``on_epoch`` and stops a
run by returning a reason from it. Each epoch syncs with the host once (the loss sum and the
validation metrics); the inner loop never calls ``.item()``.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from search.training.data import MnistData, Split, augment, batches, normalize
from search.training.speed import DEFAULT_SPEED, Speed, keep_freed_pages
from space.recipe import TrainConfig

__all__ = [
    "USE_BF16",
    "EpochStats",
    "History",
    "evaluate",
    "predict_logits",
    "set_cpu_threads",
    "train",
]

# CUDA only: autocast forward passes to bfloat16. The CPU stays fp32: bf16 autocast trained the
# narrow panel nets no faster on an AVX-512-bf16 host. Not a Speed switch: it changes the sums.
USE_BF16 = True


@dataclass
class EpochStats:
    """What one epoch did; ``val_acc`` is a fraction, ``lr`` the rate of the epoch's last step."""

    epoch: int  # 1-based
    train_loss: float  # mean training loss over the epoch (with label smoothing, as optimised)
    val_loss: float  # mean plain cross-entropy on the validation split
    val_acc: float
    seconds: float  # wall time of the epoch's training and evaluation
    lr: float


@dataclass
class History:
    """Per-epoch stats of a run; ``stopped`` says why it ended early (None if it ran to the end)."""

    epochs: list[EpochStats] = field(default_factory=list)
    stopped: str | None = None

    @property
    def val_acc(self) -> list[float]:
        return [e.val_acc for e in self.epochs]

    @property
    def final_val_acc(self) -> float | None:
        return self.epochs[-1].val_acc if self.epochs else None


def set_cpu_threads() -> int:
    """Use every core for CPU training unless ``OMP_NUM_THREADS`` is set; returns the count.

    Called by entry points, never by :func:`train`, so a caller running trials in parallel keeps
    control of threading.
    """
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(os.cpu_count() or 1)
    return torch.get_num_threads()


def _fast(device: torch.device, speed: Speed) -> tuple[bool, bool]:
    """(bf16 autocast, channels_last) for this device."""
    return device.type == "cuda" and USE_BF16, speed.nhwc(device)


def _graphs(device: torch.device, speed: Speed) -> bool:
    """Whether the compiled step replays CUDA graphs (torch.compile's "reduce-overhead")."""
    return speed.compile and speed.compile_mode == "reduce-overhead" and device.type == "cuda"


def _compiled(model: nn.Module, speed: Speed, device: torch.device) -> nn.Module:
    """``model`` behind torch.compile when ``speed.compile``, else ``model`` itself."""
    if not speed.compile:
        return model
    # Each trial is a new net: graphs of earlier ones would only count towards the recompile limit.
    torch._dynamo.reset()
    mode = "reduce-overhead" if _graphs(device, speed) else "default"
    return torch.compile(model, dynamic=False, mode=mode)


def _autocast(bf16: bool) -> contextlib.AbstractContextManager:
    return torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def evaluate(model: nn.Module, split: Split, *, batch_size: int | None = None,
             speed: Speed = DEFAULT_SPEED) -> tuple[float, float]:
    """(accuracy as a fraction, mean cross-entropy) of ``model`` on ``split``, in eval mode.

    Uses the same precision as training on the split's device (bf16 autocast on CUDA when
    ``USE_BF16``); ``batch_size`` defaults to ``speed.eval_batch``. Restores the model's
    train/eval mode afterwards.
    """
    batch_size = batch_size or speed.eval_batch
    bf16, cl = _fast(split.y.device, speed)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=split.y.device)
    correct = torch.zeros((), dtype=torch.long, device=split.y.device)
    with torch.inference_mode():
        for xb, yb in batches(split, batch_size, shuffle=False):
            x = normalize(xb)
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            with _autocast(bf16):
                logits = model(x)
            loss_sum += F.cross_entropy(logits.float(), yb, reduction="sum")
            correct += (logits.argmax(1) == yb).sum()
    model.train(was_training)
    n = max(len(split), 1)
    return correct.item() / n, loss_sum.item() / n


def predict_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """fp32 logits of ``model`` in eval mode for uint8 images ``x`` (N x 28 x 28), e.g. to compare
    an exported model with the original. Runs on the model's device; restores its mode."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(normalize(x.to(_device_of(model))))
    model.train(was_training)
    return logits


def _optimizer(model: nn.Module, hp: TrainConfig, device: torch.device,
               speed: Speed) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if hp.optimizer == "sgd":
        cls, kw = torch.optim.SGD, {"momentum": hp.momentum, "nesterov": False}
    elif hp.optimizer == "adamw":
        cls, kw = torch.optim.AdamW, {}
    else:
        raise ValueError(f"unknown optimizer {hp.optimizer!r}")
    kw |= {"lr": hp.lr, "weight_decay": hp.weight_decay}
    if device.type == "cuda":
        # Fused kernels: one launch per step instead of one per parameter; fall back if unsupported.
        with contextlib.suppress(TypeError, RuntimeError):
            return cls(params, fused=True, **kw)
    return cls(params, foreach=speed.foreach, **kw)


def _scheduler(
    opt: torch.optim.Optimizer, hp: TrainConfig, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Per-step schedule over ``total_steps``; None for a constant rate."""
    if hp.schedule == "onecycle":
        # cycle_momentum=False: hp.momentum (and AdamW's beta1) stay what the config says.
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=hp.lr, total_steps=total_steps, cycle_momentum=False
        )
    if hp.schedule == "step":
        milestones = [total_steps // 2, total_steps * 3 // 4]
        return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    if hp.schedule == "none":
        return None
    raise ValueError(f"unknown schedule {hp.schedule!r}")


def train(
    model: nn.Module,
    hp: TrainConfig,
    data: MnistData,
    *,
    seed: int = 0,
    on_epoch: Callable[[EpochStats], str | None] | None = None,
    progress: bool = False,
    epochs: int | None = None,
    speed: Speed = DEFAULT_SPEED,
) -> History:
    """Train ``model`` in place on ``data.train``, validating on ``data.val`` after every epoch.

    ``epochs`` overrides ``hp.epochs``. The run stops early when the training loss is not finite
    (that epoch is recorded but not passed to ``on_epoch``) or when ``on_epoch`` returns a
    non-empty reason; ``History.stopped`` records why. Reproducible on CPU for a fixed ``seed`` and
    model initialisation; ``speed`` changes how fast, not what is computed.
    """
    n_epochs = hp.epochs if epochs is None else epochs
    if n_epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {n_epochs}")
    device = data.device
    cuda = device.type == "cuda"
    bf16, cl = _fast(device, speed)
    if speed.keep_pages and device.type == "cpu":
        keep_freed_pages()
    torch.manual_seed(seed)  # dropout and anything else drawing from the global generator
    g = torch.Generator(device=device)
    g.manual_seed(seed)  # shuffling and augmentation, on the data's device

    model.to(device)
    if cl:
        model.to(memory_format=torch.channels_last)
    opt = _optimizer(model, hp, device, speed)
    fast = _compiled(model, speed, device)  # shares model's parameters
    graphs = _graphs(device, speed)
    steps_per_epoch = math.ceil(len(data.train) / hp.batch_size)
    sched = _scheduler(opt, hp, n_epochs * steps_per_epoch)
    ema = _ema(model, hp, steps_per_epoch)
    judged = model if ema is None else ema.module  # what is validated and kept

    history = History()
    bar = tqdm(range(1, n_epochs + 1), desc="train", leave=False, disable=not progress)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), device=device)
        lr = opt.param_groups[0]["lr"]
        for xb, yb in batches(data.train, hp.batch_size, shuffle=True, generator=g):
            x = augment(normalize(xb), rotate=hp.rotate, translate=hp.translate, scale=hp.scale,
                        generator=g)
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            # a last, smaller batch runs eagerly: compiling a second shape costs more than it saves
            net = fast if xb.shape[0] == hp.batch_size else model
            if graphs and net is fast:  # a new step: the last one's graph outputs may be reused
                torch.compiler.cudagraph_mark_step_begin()
            with _autocast(bf16):
                try:
                    logits = net(x)
                except Exception as e:  # no C++ compiler, an op inductor lacks...: go eager
                    if net is model:
                        raise
                    warnings.warn(f"torch.compile failed ({type(e).__name__}: {e}); "
                                  "training eagerly", RuntimeWarning, stacklevel=2)
                    fast = model
                    logits = model(x)
            loss = F.cross_entropy(logits.float(), yb, label_smoothing=hp.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            lr = opt.param_groups[0]["lr"]  # the rate this step used (a host float, no sync)
            if sched is not None:
                sched.step()
            if ema is not None:
                ema.update_parameters(model)
            loss_sum += loss.detach() * yb.shape[0]
        train_loss = loss_sum.item() / len(data.train)  # the epoch's one sync for training
        val_acc, val_loss = evaluate(judged, data.val, speed=speed)
        if cuda:
            torch.cuda.synchronize(device)
        stats = EpochStats(epoch, train_loss, val_loss, val_acc, time.perf_counter() - t0, lr)
        history.epochs.append(stats)
        bar.set_postfix_str(f"val_acc={100 * val_acc:.2f}%")
        if not math.isfinite(train_loss):
            history.stopped = f"non-finite loss at epoch {epoch}"
            break
        reason = on_epoch(stats) if on_epoch is not None else None
        if reason:
            history.stopped = reason
            break
    bar.close()
    if ema is not None:  # the trained weights are the average: what was validated
        model.load_state_dict(ema.module.state_dict())
    return history


def _ema(model: nn.Module, hp: TrainConfig, steps_per_epoch: int) -> AveragedModel | None:
    """An EMA copy of ``model`` (weights and BN statistics) over ``hp.ema_epochs`` epochs' steps,
    or None when off. torch's AveragedModel: first update copies, later ones lerp by 1 - decay."""
    if hp.ema_epochs <= 0:
        return None
    decay = max(0.0, 1 - 1 / (hp.ema_epochs * steps_per_epoch))
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
