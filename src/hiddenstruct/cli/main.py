"""Entry point of the ``hiddenstruct`` command: builds the parser and dispatches.

Each command lives in its own module under :mod:`hiddenstruct.cli` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a
``run(args) -> int`` callable. This module only lists them.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from hiddenstruct import __version__
from hiddenstruct.errors import HiddenstructError, UsageError

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hiddenstruct",
        description="Structure of sparse neural networks: models, pruning, priors, prediction, NAS.",
    )
    parser.add_argument("--version", action="version", version=f"hiddenstruct {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"hiddenstruct.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as err:
        print(f"hiddenstruct: error: {err}", file=sys.stderr)
        return 2
    except HiddenstructError as err:
        print(f"hiddenstruct: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hiddenstruct: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
