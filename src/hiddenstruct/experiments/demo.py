"""``hiddenstruct demo``: every experiment of the paper at toy scale on embedded data.

:data:`DEMO_STEPS` holds the foundation step (``reber-rnn``) and every registered
experiment's :meth:`~hiddenstruct.experiments.base.Experiment.demo_step`. A step is called as
``step(out_dir: Path, store: TrialStore, seed: int, threads: int) -> dict[str, str]``
(``threads``: torch CPU threads per trial, the experiments' ``--threads``) and returns
what it produced (label → path or short text), which the demo prints at the end.
Finally the demo writes ``demo_timings.csv`` (wall and CPU seconds of each step with the
machine's load average, so a time measured on a busy machine can be judged) and
``report.html`` (all figures and tables on one self-contained page).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from hiddenstruct.experiments import reber_demo
from hiddenstruct.experiments.registry import EXPERIMENTS
from hiddenstruct.experiments.report import write_report
from hiddenstruct.outputs import write_csv
from hiddenstruct.trials.store import TrialStore

# (title, step) in the order the demo runs them: the foundation step, then every registered
# experiment's demo_step (see hiddenstruct.experiments.registry)
DEMO_STEPS: list[tuple[str, Callable[..., dict[str, str]]]] = [
    ("reber-rnn", reber_demo.demo_step),
    *((name, experiment.demo_step) for name, experiment in EXPERIMENTS.items()),
]


def _timing(title: str, start: float, cpu: float, threads: int) -> dict[str, float | str]:
    """Wall and CPU (this process: the demo runs its trials in it) seconds since ``start`` /
    ``cpu``, with the 1-minute load average: wall time is only comparable at equal load."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "step": title,
        "wall_seconds": round(time.perf_counter() - start, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "threads": threads,
        "load_1min": round(load, 2),
        "cpus": os.cpu_count() or 0,
    }


def run_demo(
    out_dir: Path,
    store_path: Path,
    seed: int = 0,
    only: list[str] | None = None,
    console: Console | None = None,
    threads: int = 1,
) -> dict[str, dict[str, str]]:
    """Run the demo steps (all, or those whose title is in ``only``) with ``threads`` torch CPU
    threads per trial; return their outputs."""
    console = console or Console(stderr=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = TrialStore(store_path)
    produced: dict[str, dict[str, str]] = {}
    steps = [(t, s) for t, s in DEMO_STEPS if not only or t in only]
    total_start = time.perf_counter()
    timings = []
    for number, (title, step) in enumerate(steps, start=1):
        console.rule(f"[bold]demo {number}/{len(steps)}: {title}")
        start, cpu = time.perf_counter(), time.process_time()
        step_dir = out_dir / title
        step_dir.mkdir(parents=True, exist_ok=True)
        produced[title] = step(step_dir, store, seed, threads=threads)
        timings.append(_timing(title, start, cpu, threads))
        console.print(f"{title} done in {timings[-1]['wall_seconds']:.1f} s")
    write_csv(out_dir / "demo_timings.csv", timings)
    report = write_report(out_dir, out_dir / "report.html", "hiddenstruct demo", store=store)
    produced["report"] = {"html": str(report)}
    produced["_total"] = {"seconds": f"{time.perf_counter() - total_start:.1f}"}
    return produced
