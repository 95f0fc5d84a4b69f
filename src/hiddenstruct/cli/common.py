"""Argument helpers shared by several commands."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from hiddenstruct.cli.parser import value_error
from hiddenstruct.cli.paths import output_folder
from hiddenstruct.trials.config import SEED_RANGE
from hiddenstruct.trials.ray_executor import DEFAULT_RAY_TIMEOUT

DEFAULT_STORE = Path("runs") / "hiddenstruct.sqlite"


def _number(text: str, convert, valid, reason: str, unparsable: str | None = None):
    """``convert(text)`` when that works and ``valid`` holds for the value, else a usage error
    ``TEXT: REASON`` (``TEXT: UNPARSABLE`` when it is no number at all, if given)."""
    try:
        value = convert(text)
    except ValueError:
        raise value_error(text, unparsable or reason) from None
    if not valid(value):
        raise value_error(text, reason)
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer > 0 (a usage error otherwise)."""
    return _number(text, int, lambda v: v > 0, "must be a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _number(text, int, lambda v: v >= 0, "must be an integer >= 0")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    finite = "must be a finite number > 0"
    return _number(
        text, float, lambda v: v > 0 and math.isfinite(v), finite, "must be a number > 0"
    )


def fraction(text: str) -> float:
    """argparse type: a float in [0, 1] (NaN is not)."""
    return _number(text, float, lambda v: 0.0 <= v <= 1.0, "must be a number in [0, 1]")


def seed(text: str) -> int:
    """argparse type: a seed, an integer in :data:`SEED_RANGE`."""
    low, high = SEED_RANGE
    reason = f"must be an integer in [{low}, 2**32 - 1]"
    return _number(text, int, lambda v: low <= v <= high, reason)


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        type=Path,
        default=DEFAULT_STORE,
        help=f"SQLite trial store (default: {DEFAULT_STORE})",
    )


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="trials run in parallel in a local process pool (default: 1, sequential)",
    )
    parser.add_argument(
        "--executor",
        choices=("local", "process", "ray"),
        default=None,
        help="where trials run: local (sequential), process (pool of --workers) or ray "
        "(default: local when --workers is 1, else process)",
    )
    parser.add_argument(
        "--max-attempts",
        type=positive_int,
        default=2,
        help="runs of a trial whose worker process died before it is stored failed (default: 2); "
        "an error raised by the trial itself is not retried",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        help="address of a running Ray cluster for --executor ray: HOST:PORT of its head "
        "(e.g. 10.0.0.5:6379) or ray://HOST:10001 (needs ray[client]) (default: start a local one)",
    )
    parser.add_argument(
        "--ray-timeout",
        type=positive_float,
        default=DEFAULT_RAY_TIMEOUT,
        metavar="SECONDS",
        help="give up when Ray has not connected (or started locally) within this many seconds; "
        f"checked before the store is created (default: {DEFAULT_RAY_TIMEOUT:g})",
    )


def add_experiment_run_arguments(parser: argparse.ArgumentParser, experiment: str) -> None:
    """``--output`` (default ``runs/<experiment>``), ``--store`` and the executor options."""
    default = Path("runs") / experiment
    parser.add_argument(
        "--output",
        type=output_folder,
        default=str(default),  # a string default goes through type= too: checked before work
        help=f"folder for CSVs and figures (default: {default})",
    )
    add_store_argument(parser)
    add_executor_arguments(parser)
