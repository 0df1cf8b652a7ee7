"""Parser pieces shared by the command modules (the only module of search.cli they may import)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from search.config import SearchConfig

__all__ = ["DATA_HELP", "DEFAULT_RESEED", "PROG", "OneLineParser", "add_device_arg",
           "add_evaluate_args", "add_study_args", "comma_words", "knob_value", "non_negative_int",
           "positive_float", "positive_int", "typed_value", "whole_numbers"]

PROG = "nas-mnist"
DEFAULT_RESEED = 3  # fresh-seed retrains per front member when --reseed is not given
DATA_HELP = ("MNIST root holding MNIST/raw/*.gz "
             "(default: $NAS_MNIST_DATA or ~/.cache/nas-mnist; downloaded if missing)")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is a single line (no usage dump).

    ``moved(args)``, if given, sees this parser's arguments first and names the new form of a
    command line that no longer parses (a one-line error, before argparse's own).
    """

    def __init__(self, *a: Any, moved: Callable[[list[str]], str | None] | None = None,
                 **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.moved = moved

    def parse_known_args(self, args: Sequence[str] | None = None,
                         namespace: argparse.Namespace | None = None
                         ) -> tuple[argparse.Namespace, list[str]]:
        if self.moved is not None:
            msg = self.moved(list(sys.argv[1:] if args is None else args))
            if msg is not None:
                print(f"{PROG}: error: {msg}", file=sys.stderr)
                raise SystemExit(2)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _number(cast: Callable[[str], float], what: str, ok: Callable[[float], bool],
            rule: str) -> Callable[[str], Any]:
    """An argparse type: `cast` of the flag's text, refused in one line unless `ok`."""
    def parse(s: str) -> Any:
        try:
            v = cast(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {s!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {s}")
        return v

    return parse


positive_int = _number(int, "a whole number", lambda v: v > 0, "> 0")
non_negative_int = _number(int, "a whole number", lambda v: v >= 0, ">= 0")
positive_float = _number(float, "a number", lambda v: v > 0, "> 0")


def add_study_args(p: argparse.ArgumentParser, *, name_required: bool,
                   name_help: str = "study name") -> None:
    """--study/--study-name, --study-dir and --storage, shared by every study command."""
    p.add_argument("--study", "--study-name", dest="study_name", required=name_required,
                   help=name_help)
    p.add_argument("--study-dir", type=Path, default=SearchConfig.study_dir,
                   help=f"folder of SQLite studies and their outputs "
                   f"(default: {SearchConfig.study_dir})")
    p.add_argument("--storage", help="Optuna storage URL, e.g. postgresql://user@host/db "
                   "(default: sqlite:///<study-dir>/<study>.db)")


def add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=SearchConfig.device,
                   help=f"auto, cpu, cuda or cuda:N (default {SearchConfig.device})")


def add_evaluate_args(p: argparse.ArgumentParser) -> None:
    """--evaluate and --reseed, shared with `search`."""
    p.add_argument("--evaluate", action="store_true",
                   help="score the front on the 10k test set (final epoch, no selection) and "
                   "store test_acc / test_mean / test_sd on its trials")
    p.add_argument("--reseed", type=non_negative_int, metavar="K",
                   help="with --evaluate: also retrain each front member K times from fresh "
                   f"seeds on all 60k training images (default {DEFAULT_RESEED}; 0: off)")


def comma_words(s: str) -> tuple[str, ...]:
    """'a,c,d' -> ('a', 'c', 'd') (bench front --arms; which can run together:
    search.bench.front.check_arms)."""
    return tuple(x.strip() for x in s.split(",") if x.strip())


def whole_numbers(s: str) -> list[int]:
    try:
        out = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        out = []
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"expected positive whole numbers like 1,2, got {s!r}")
    return out


def typed_value(s: str) -> Any:
    """'0.05' -> 0.05, '3' -> 3, 'true' -> True, anything else stays a string."""
    low = s.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(s)
        except ValueError:
            pass
    return s


def knob_value(s: str) -> tuple[str, Any]:
    knob, eq, value = s.partition("=")
    if not eq or not knob:
        raise argparse.ArgumentTypeError(f"expected KNOB=VALUE, got {s!r}")
    return knob, typed_value(value)
