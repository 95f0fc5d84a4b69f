"""``hiddenstruct demo``: every experiment of the paper at toy scale on embedded data.

:data:`DEMO_STEPS` holds the foundation step (``reber-rnn``) and every registered
experiment's :meth:`~hiddenstruct.experiments.base.Experiment.demo_step`. A step is called as
``step(out_dir: Path, store: TrialStore, seed: int) -> dict[str, str]`` and returns
what it produced (label → path or short text), which the demo prints at the end.
Finally the demo writes ``report.html`` (all figures and tables on one self-contained page).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from hiddenstruct.experiments import reber_demo
from hiddenstruct.experiments.registry import EXPERIMENTS
from hiddenstruct.experiments.report import write_report
from hiddenstruct.trials.store import TrialStore

# (title, step) in the order the demo runs them: the foundation step, then every registered
# experiment's demo_step (see hiddenstruct.experiments.registry)
DEMO_STEPS: list[tuple[str, Callable[[Path, TrialStore, int], dict[str, str]]]] = [
    ("reber-rnn", reber_demo.demo_step),
    *((name, experiment.demo_step) for name, experiment in EXPERIMENTS.items()),
]


def run_demo(
    out_dir: Path,
    store_path: Path,
    seed: int = 0,
    only: list[str] | None = None,
    console: Console | None = None,
) -> dict[str, dict[str, str]]:
    """Run the demo steps (all, or those whose title is in ``only``); return their outputs."""
    console = console or Console(stderr=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = TrialStore(store_path)
    produced: dict[str, dict[str, str]] = {}
    steps = [(t, s) for t, s in DEMO_STEPS if not only or t in only]
    total_start = time.perf_counter()
    for number, (title, step) in enumerate(steps, start=1):
        console.rule(f"[bold]demo {number}/{len(steps)}: {title}")
        start = time.perf_counter()
        step_dir = out_dir / title
        step_dir.mkdir(parents=True, exist_ok=True)
        produced[title] = step(step_dir, store, seed)
        console.print(f"{title} done in {time.perf_counter() - start:.1f} s")
    report = write_report(out_dir, out_dir / "report.html", "hiddenstruct demo", store=store)
    produced["report"] = {"html": str(report)}
    produced["_total"] = {"seconds": f"{time.perf_counter() - total_start:.1f}"}
    return produced
