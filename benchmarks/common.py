"""Shared helpers of the benchmark scripts: timing, the result line, and common options.

Every benchmark prints lines ``name: ours X s, baseline Y s, ratio R`` where X and Y are
medians of repeated runs measured in the same process and R = baseline / ours (> 1: ours
is faster).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence

from hiddenstruct.timing import measure, measure_interleaved

__all__ = ["bench_parser", "measure", "measure_interleaved", "repeats_of", "report"]


def report(name: str, ours: Sequence[float], baseline: Sequence[float]) -> float:
    """Print ``name: ours X s, baseline Y s, ratio R`` (medians; R = baseline / ours); return R."""
    ours_median = statistics.median(ours)
    baseline_median = statistics.median(baseline)
    ratio = baseline_median / ours_median if ours_median > 0 else float("inf")
    print(
        f"{name}: ours {ours_median:.4g} s, baseline {baseline_median:.4g} s, ratio {ratio:.2f}",
        flush=True,
    )
    return ratio


def bench_parser(description: str, default_repeats: int = 5) -> argparse.ArgumentParser:
    """An argument parser with ``--quick`` (smaller sizes, fewer repeats) and ``--repeats``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and 2 repeats (a smoke run)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help=f"timed repeats (default {default_repeats}, 2 with --quick)",
    )
    parser.set_defaults(default_repeats=default_repeats)
    return parser


def repeats_of(args: argparse.Namespace) -> int:
    """The number of repeats chosen by ``--repeats`` / ``--quick``."""
    if args.repeats is not None:
        return max(1, args.repeats)
    return 2 if args.quick else args.default_repeats
