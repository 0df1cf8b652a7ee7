"""The `nas-mnist` command line: argument parsing, and one-line errors for every bad input.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``; that module's parser
sets ``func(args) -> int``. Errors a user can cause are raised as UserError (or the space/data
errors) and printed as one line with exit status 2; nothing is written before validation passes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import NoReturn

from search.errors import UserError

__all__ = ["OneLineParser", "add_study_args", "main", "positive_int"]

# subcommand modules, in the order `nas-mnist --help` lists them
_COMMANDS = (
    "search.cmd_search",
    "search.cmd_pareto",
    "search.cmd_export",
    "search.cmd_dashboard",
    "search.cmd_train",
    "search.cmd_bench",
)
PROG = "nas-mnist"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is a single line (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {v}")
    return v


def add_study_args(p: argparse.ArgumentParser, *, name_required: bool) -> None:
    """--study/--study-name, --study-dir and --storage, shared by every study command."""
    p.add_argument("--study", "--study-name", dest="study_name", required=name_required,
                   help="study name" + ("" if name_required else " (default: b<budget>)"))
    p.add_argument("--study-dir", type=Path, default=Path("studies"),
                   help="folder of SQLite studies and their outputs (default: studies)")
    p.add_argument("--storage", help="Optuna storage URL, e.g. postgresql://user@host/db "
                   "(default: sqlite:///<study-dir>/<study>.db)")


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description="Budgeted architecture search for MNIST CNNs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=OneLineParser)
    for mod in _COMMANDS:
        importlib.import_module(mod).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    import optuna

    from search.data import DataError
    from space import BudgetError, ConfigError

    args = build_parser().parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own bars and lines report trials
    try:
        return int(args.func(args) or 0)
    except (UserError, DataError, BudgetError, ConfigError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
