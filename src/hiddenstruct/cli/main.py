"""Entry point of the ``hiddenstruct`` command: builds the parser and dispatches.

Each command lives in its own module under :mod:`hiddenstruct.cli` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a
``run(args) -> int`` callable. This module only lists them.
"""

from __future__ import annotations

import importlib
import signal
import sqlite3
import sys
from collections.abc import Callable

from hiddenstruct import __version__
from hiddenstruct.cli.parser import CommandParser
from hiddenstruct.errors import HiddenstructError, Interrupted, UsageError, signal_number
from hiddenstruct.trials.store_checks import cannot_write_message, is_environment_error

# Explicit registry: module names under hiddenstruct.cli, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "experiment",
    "results",
    "report",
    "reber",
    "data",
    "graph_properties",
    "predict",
)


def build_parser() -> CommandParser:
    parser = CommandParser(
        prog="hiddenstruct",
        description="Structure of sparse neural networks: models, pruning, priors, prediction, NAS.",
    )
    parser.add_argument("--version", action="version", version=f"hiddenstruct {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"hiddenstruct.cli.{name}")
        module.register(subparsers)
    return parser


def _raise_terminated(signum: int, frame) -> None:
    Interrupted.last_signum = signum
    raise Interrupted(signum)


def _on_sigterm_raise() -> None:
    """SIGTERM unwinds like Ctrl-C (cleanup runs, workers stop) and exits 143."""
    try:
        signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (e.g. main() called from a thread)
        pass


def _interrupted(err: KeyboardInterrupt) -> int:
    signum = signal_number(err)
    note = f"; {err.note}" if isinstance(err, Interrupted) and err.note else ""
    print(f"hiddenstruct: interrupted by {signal.Signals(signum).name}{note}", file=sys.stderr)
    return 128 + signum


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    return guarded(lambda: args.func(args), getattr(args, "store", None))


def _database_message(err: sqlite3.DatabaseError, store) -> str:
    """A store that fails after it was opened: cannot be written here (cause and fix), or
    damaged (how to check it); the store's own path, never a placeholder."""

    if is_environment_error(err):
        if store is not None:
            return cannot_write_message(store, err)
        return f"the trial store cannot be written here ({err}); check free space and permissions"
    where = f" {store}" if store is not None else ""
    check = (
        f"`hiddenstruct results check --store {store}`"
        if store is not None
        else ("`hiddenstruct results check --store` on it")
    )
    return f"the trial store{where} could not be read ({err}); run {check}"


def guarded(command: Callable[[], int | None], store=None) -> int:
    """Run ``command`` as the CLI does: messages instead of tracebacks, exit codes 0/1/2/130/143.
    ``store``: the command's trial store, named in messages about it."""
    Interrupted.last_signum = None
    _on_sigterm_raise()
    try:
        return int(command() or 0)
    except UsageError as err:
        print(f"hiddenstruct: error: {err}", file=sys.stderr)
        return 2
    except HiddenstructError as err:
        print(f"hiddenstruct: error: {err}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as err:  # a store that fails after it was opened
        print(f"hiddenstruct: error: {_database_message(err, store)}", file=sys.stderr)
        return 1
    except OSError as err:  # last line of defence: a file-system failure is a message too
        where = f"{err.filename}: " if err.filename else ""
        print(f"hiddenstruct: error: {where}{err.strerror or err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        return _interrupted(err)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
