"""`nas-mnist train`: train one network with its own recipe and report validation and test accuracy.

The network is a reference (``--arch``), a config file in the format every trial stores
(``--config``, see space.candidate), or a trial of a study (``--trial N --study S``, which also
takes the trial's seed and the study's data split unless told otherwise). Both accuracies are the
final epoch's: nothing is picked on the test set.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from search.cli.common import DATA_HELP, add_device_arg, add_study_args, positive_int
from search.config import SearchConfig
from search.errors import UserError

if TYPE_CHECKING:  # space imports torch: only inside the command, so that --help stays fast
    from space import Candidate, TrainConfig

__all__ = ["add_parser", "recipe_summary"]

def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train one network (a reference, a config file or a trial)",
        description="Train one network with its own recipe; print validation and test accuracy "
        "at the final epoch.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--arch", metavar="NAME", help="a reference network (see --list)")
    what.add_argument("--config", type=Path, metavar="FILE",
                      help="a candidate JSON file, as stored by `search` for every trial")
    what.add_argument("--trial", type=int, metavar="N", help="trial N of --study")
    what.add_argument("--list", action="store_true", help="list the reference networks")
    add_study_args(p, name_required=False, name_help="the study of --trial")
    p.add_argument("--epochs", type=positive_int, help="override the recipe's epochs")
    p.add_argument("--seed", type=int, help="training seed (default 0; a trial's own for --trial)")
    p.add_argument("--data-dir", help=DATA_HELP)
    add_device_arg(p)
    p.add_argument("--val-size", type=int, help="validation images held out of the 60k train set "
                   f"(default {SearchConfig.val_size}; the study's for --trial)")
    p.add_argument("--train-subset", type=positive_int,
                   help="train on N images only (quick runs; default: the study's for --trial)")
    p.set_defaults(func=_run)


def recipe_summary(tc: TrainConfig) -> str:
    """One line, e.g. 'sgd lr 0.01 momentum 0.9 wd 0, batch 128, 20 epochs, schedule none'."""
    s = f"{tc.optimizer} lr {tc.lr:g}"
    s += f" momentum {tc.momentum:g}" if tc.optimizer == "sgd" else ""
    s += f" wd {tc.weight_decay:g}, batch {tc.batch_size}, {tc.epochs} epochs"
    s += f", schedule {tc.schedule}"
    s += f", rotate ±{tc.rotate:g}°" if tc.rotate else ""
    s += f", translate ±{tc.translate:g}" if tc.translate else ""
    s += f", zoom ±{tc.scale:g}" if tc.scale else ""
    s += f", weight EMA over {tc.ema_epochs:g} epochs" if tc.ema_epochs else ""
    s += f", label smoothing {tc.label_smoothing:g}" if tc.label_smoothing else ""
    return s


def _list() -> int:
    from space import REFERENCES, REPORTED, count_params

    print(f"{'name':<9} {'params':>7}  {'reported':>8}  recipe")
    for name, c in REFERENCES.items():
        print(f"{name:<9} {count_params(c.net):>7,}  {REPORTED[name]:>7.2f}%  "
              f"{recipe_summary(c.train)}")
    print("reported: the notebooks' test accuracy at the best epoch picked on the test set "
          "(optimistic); `nas-mnist train --arch NAME` retrains one and reports the final epoch.")
    return 0


def _candidate(args: argparse.Namespace) -> tuple[str, Candidate, dict]:
    """(label, candidate, defaults for seed/val_size/train_subset) from --arch/--config/--trial."""
    from space import REFERENCES, Candidate

    defaults = {"seed": 0, "val_size": SearchConfig.val_size, "train_subset": None}
    if args.arch is not None:
        if args.arch not in REFERENCES:
            raise UserError(f"unknown arch {args.arch!r}; known: {', '.join(REFERENCES)}")
        return args.arch, REFERENCES[args.arch], defaults
    if args.config is not None:
        from space import load_candidate

        return str(args.config), load_candidate(args.config), defaults
    from search.store.study import open_existing

    study, _ = open_existing(args.study_name, args.storage, args.study_dir)
    trial = next((t for t in study.get_trials(deepcopy=False) if t.number == args.trial), None)
    if trial is None:
        n = len(study.get_trials(deepcopy=False))
        raise UserError(f"study {study.study_name!r} has no trial {args.trial} "
                        f"(trials 0 to {n - 1})" if n else f"study {study.study_name!r} is empty")
    if "config" not in trial.user_attrs:
        raise UserError(f"trial {args.trial} of study {study.study_name!r} has no config "
                        f"({trial.state.name.lower()} before it was sampled)")
    s = study.user_attrs.get("settings", {})
    defaults = {"seed": trial.user_attrs.get("seed", 0),
                "val_size": s.get("val_size", SearchConfig.val_size),
                "train_subset": s.get("train_subset")}
    label = f"trial {trial.number} of study {study.study_name!r}"
    return label, Candidate.from_dict(trial.user_attrs["config"]), defaults


def _run(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    if args.trial is not None and args.study_name is None:
        raise UserError("--trial needs --study NAME")
    if args.trial is None and args.study_name is not None:
        raise UserError("--study is used only with --trial")
    from space import count_params, describe, validate

    label, cand, d = _candidate(args)
    validate(cand.net)  # a hand-written config fails here, before any data is read
    seed = d["seed"] if args.seed is None else args.seed
    val_size = d["val_size"] if args.val_size is None else args.val_size
    subset = d["train_subset"] if args.train_subset is None else args.train_subset
    epochs = args.epochs or cand.train.epochs

    from search.results.evaluate import retrain
    from search.training.data import load_mnist, load_test
    from search.training.device import resolve_device
    from search.training.train import set_cpu_threads

    device = resolve_device(args.device)
    set_cpu_threads()
    data = load_mnist(args.data_dir, device=device, val_size=val_size, subset=subset)
    test = load_test(args.data_dir, device=device)  # read before training: fail fast if missing
    print(f"{label}: {count_params(cand.net):,} params | {describe(cand.net)}")
    print(f"recipe: {recipe_summary(cand.train)}" + (f" (run for {epochs})" if args.epochs else ""))
    print(f"data: {len(data.train):,} train / {len(data.val):,} validation images, seed {seed}, "
          f"{device}", flush=True)
    t0 = time.perf_counter()
    r = retrain(cand, data, seed=seed, test=test, epochs=epochs, progress=True)
    if r.history.stopped:
        print(f"stopped early: {r.history.stopped}")
    print(f"trained {len(r.history.epochs)} epochs in {time.perf_counter() - t0:.1f} s")
    print(f"validation accuracy: {r.val_acc:.2f}% (final epoch, {len(data.val):,} held-out images)")
    print(f"test accuracy:       {r.test_acc:.2f}% (final epoch, {len(test):,} test images; "
          "no epoch picked on test)")
    return 0
