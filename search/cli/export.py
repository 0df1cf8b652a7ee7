"""`nas-mnist export`: a front member (or any completed trial) as a standalone script + weights
(search.results.export_trial)."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path

from search.cli.common import add_study_args, positive_int
from search.errors import UserError

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="write a trial as a standalone PyTorch script plus weights",
        description="Write a completed trial (default: the most accurate front member) as a "
        "plain PyTorch script with its weights beside it, and attach the script to the trial.")
    add_study_args(p, name_required=True)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--trial", type=int, metavar="N", help="trial number")
    which.add_argument("--max-params", type=positive_int, metavar="P",
                       help="the most accurate front member with at most P params")
    which.add_argument("--best", action="store_true",
                       help="the most accurate front member (the default)")
    p.add_argument("-o", "--output", type=Path, metavar="PATH",
                   help="script path, ending in .py; weights go beside it as .pt "
                   "(default: <study-dir>/<study>/export/trial_<N>.py)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from search.results.export_trial import export_trial, select_trial
    from search.store.study import open_existing

    study, paths = open_existing(args.study_name, args.storage, args.study_dir)
    trial = select_trial(study, number=args.trial, max_params=args.max_params)
    out = args.output or paths.export_dir / f"trial_{trial.number}.py"
    if not paths.artifacts.is_dir():
        raise UserError(f"no artifact store at {paths.artifacts}: the weights are missing")
    ex = export_trial(study, trial, out, paths.artifact_store())
    print(f"trial {ex.trial} ({int(trial.values[1])} params, val acc {trial.values[0]:.2f} %) -> "
          f"{ex.script} + {ex.weights.name}")
    print(_command(ex.script, ex.weights, study.user_attrs.get("data_dir")))
    return 0


def _command(script: Path, weights: Path, data_dir: str | None) -> str:
    """The command that scores the exported weights, as it must be typed to work: with the
    search's --data-dir (recorded on the study) when it had one; otherwise the script's own
    default (the same $NAS_MNIST_DATA or ~/.cache/nas-mnist as nas-mnist's), and a note if MNIST's
    test files are not there."""
    cmd = ["python", str(script), "--evaluate", str(weights)]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    line = "  " + shlex.join(cmd)
    root = Path(data_dir or os.environ.get("NAS_MNIST_DATA") or "~/.cache/nas-mnist").expanduser()
    raw = root / "MNIST" / "raw"
    if not any((raw / f"t10k-images-idx3-ubyte{z}").is_file() for z in ("", ".gz")):
        line += f"\n  (MNIST's test files are not in {raw}: add --data-dir D, or --download)"
    return line
