"""Wall-clock timing of repeated calls (medians are taken by the callers).

Used by :func:`hiddenstruct.nn.speed.speed_report` and by the scripts in ``benchmarks/``
(``benchmarks/common.py`` re-exports these).
"""

from __future__ import annotations

import time
from collections.abc import Callable


def measure(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def measure_interleaved(
    fns: dict[str, Callable[[], object]], repeats: int = 5, warmup: int = 1
) -> dict[str, list[float]]:
    """Wall-clock seconds of each of ``fns``, the repeats taken in turn (a, b, c, a, b, c, …)
    so that every side sees the same machine load; on a shared machine this keeps the ratios
    of a run comparable even when the load changes during it."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times
