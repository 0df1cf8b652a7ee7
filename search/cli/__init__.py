"""The `nas-mnist` command line: argument parsing, and one-line errors for every bad input.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``; that module's parser
sets ``func(args) -> int``. Errors a user can cause are raised as UserError (or the space/data
errors) and printed as one line with exit status 2; nothing is written before validation passes.

Building the parser imports no torch or optuna (seconds of start-up): ``--help`` and ``--version``
stay fast, and each command imports what it needs inside its ``func``.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from search.cli.common import PROG, OneLineParser
from search.errors import UserError

__all__ = ["build_parser", "main", "version_text"]

# subcommand modules, in the order `nas-mnist --help` lists them
_COMMANDS = (
    "search.cli.search",
    "search.cli.pareto",
    "search.cli.export",
    "search.cli.dashboard",
    "search.cli.train",
    "search.cli.bench",
)


def version_text() -> str:
    """One line: nas-mnist, torch and optuna versions and whether CUDA is usable."""
    import torch  # only here: CUDA availability needs it, the versions alone would not

    from search.training.device import versions

    v = versions()
    cuda = (f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s)"
            if torch.cuda.is_available() else "CUDA not available")
    return f"{PROG} {v['nas-mnist']} (torch {v['torch']}, optuna {v['optuna']}, {cuda})"


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(version_text())
        parser.exit()


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description="Budgeted architecture search for MNIST CNNs.")
    parser.add_argument("--version", action=_VersionAction,
                        help="print the versions of nas-mnist, torch and optuna, CUDA and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=OneLineParser)
    for mod in _COMMANDS:
        importlib.import_module(mod).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    import optuna

    from search.loop.interrupt import exit_status, raise_on_sigterm, stop_name
    from search.store.faults import as_write_fault
    from search.training.data import DataError
    from space import BudgetError, ConfigError

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own bars and lines report trials
    previous = raise_on_sigterm()  # SIGTERM ends a command the way Ctrl-C does
    try:
        return int(args.func(args) or 0)
    except (UserError, DataError, BudgetError, ConfigError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"{PROG}: {stop_name(e)}", file=sys.stderr)
        return exit_status(e)
    except Exception as e:  # a full disk where no command expected it: still one line
        fault = as_write_fault(e)
        if fault is None:
            raise
        print(f"{PROG}: error: {fault}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
