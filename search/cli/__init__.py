"""The `nas-mnist` command line: argument parsing, and one-line errors for every bad input.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``; that module's parser
sets ``func(args) -> int``. Errors a user can cause are raised as UserError (or the space/data
errors) and printed as one line with exit status 2; nothing is written before validation passes.
"""

from __future__ import annotations

import importlib
import sys

from search.cli.common import PROG, OneLineParser
from search.errors import UserError

__all__ = ["build_parser", "main"]

# subcommand modules, in the order `nas-mnist --help` lists them
_COMMANDS = (
    "search.cli.search",
    "search.cli.pareto",
    "search.cli.export",
    "search.cli.dashboard",
    "search.cli.train",
    "search.cli.bench",
)


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description="Budgeted architecture search for MNIST CNNs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=OneLineParser)
    for mod in _COMMANDS:
        importlib.import_module(mod).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    import optuna

    from search.training.data import DataError
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

