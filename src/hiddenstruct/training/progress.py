"""Progress display for training: rich bars on a terminal, nothing otherwise.

Inside a sweep the terminal belongs to the sweep's display; a running trial then reports its
label and epoch/step through :func:`report_trial_progress` (a small JSON file per trial that
the sweep's display reads, so it works from worker processes too). Code doing long work
outside the training loop can call :func:`report_progress` itself.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

# Set while a trial runs inside a sweep, whose own progress display must not be nested.
_SUPPRESSED: ContextVar[bool] = ContextVar("hiddenstruct_progress_suppressed", default=False)


class TrialReporter:
    """Writes a running trial's progress (label, epoch, step, …) to ``path``, throttled."""

    def __init__(self, path: str, label: str, interval: float = 1.0) -> None:
        self.path, self.interval = path, interval
        self.fields: dict[str, Any] = {"label": label, "started": time.time()}
        self._last = 0.0
        self.write(force=True)

    def update(self, force: bool = False, **fields: Any) -> None:
        """Merge ``fields`` and write them (at most every ``interval`` s unless ``force``)."""
        self.fields.update(fields)
        self.write(force)

    def write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump({**self.fields, "updated": time.time()}, handle)
            os.replace(tmp, self.path)
        except OSError:  # progress is best effort (e.g. a Ray node without the driver's folder)
            pass


_REPORTER: ContextVar[TrialReporter | None] = ContextVar(
    "hiddenstruct_trial_reporter", default=None
)


@contextmanager
def report_trial_progress(folder: str | None, trial_hash: str, label: str) -> Iterator[None]:
    """While the block runs, training progress is written to ``folder/<hash>.json``."""
    if folder is None or not os.path.isdir(folder):
        yield
        return
    token = _REPORTER.set(TrialReporter(os.path.join(folder, f"{trial_hash}.json"), label))
    try:
        yield
    finally:
        _REPORTER.reset(token)


def report_progress(**fields: Any) -> None:
    """Report progress of the running trial (e.g. ``stage="prune", level=3, levels=10``)."""
    reporter = _REPORTER.get()
    if reporter is not None:
        reporter.update(force=True, **fields)  # rare calls: never throttled


@contextmanager
def suppress_progress() -> Iterator[None]:
    """Within this block ``progress=None`` (auto) means off (used by trial executors)."""
    token = _SUPPRESSED.set(True)
    try:
        yield
    finally:
        _SUPPRESSED.reset(token)


def progress_enabled(progress: bool | None) -> bool:
    """Resolve ``progress=None`` (auto) to "stderr is a terminal and not inside a sweep"."""
    if progress is None:
        if _SUPPRESSED.get():
            return False
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(progress)


class NullProgress:
    """Does nothing; used when progress is off so the training loop has no branches."""

    enabled = False

    def __enter__(self) -> NullProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def start_epoch(self, epoch: int, steps: int | None) -> None:
        return None

    def step(self, loss: float | None = None, accuracy: float | None = None) -> None:
        return None

    def end_epoch(self, description: str) -> None:
        return None


class RichProgress:
    """Two rich bars on stderr: epochs (with ETA) and steps of the current epoch (loss, accuracy)."""

    enabled = True

    def __init__(self, epochs: int, description: str = "train") -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._epochs = epochs
        self._description = description
        self._epoch_task = None
        self._step_task = None

    def __enter__(self) -> RichProgress:
        self._progress.__enter__()
        self._epoch_task = self._progress.add_task(
            f"{self._description} epoch", total=self._epochs, stats=""
        )
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def start_epoch(self, epoch: int, steps: int | None) -> None:
        if self._step_task is not None:
            self._progress.remove_task(self._step_task)
        self._step_task = self._progress.add_task(f"  epoch {epoch}", total=steps, stats="")

    def step(self, loss: float | None = None, accuracy: float | None = None) -> None:
        stats = {}
        if loss is not None:
            stats["stats"] = f"loss {loss:.4f} acc {accuracy:.3f}"
        self._progress.update(self._step_task, advance=1, **stats)

    def end_epoch(self, description: str) -> None:
        self._progress.update(self._epoch_task, advance=1, stats=description)


class ReporterProgress(NullProgress):
    """Sends epoch / step of the training loop to the running trial's reporter."""

    enabled = True

    def __init__(self, reporter: TrialReporter, epochs: int) -> None:
        self._reporter, self._epochs, self._steps, self._step = reporter, epochs, None, 0

    def start_epoch(self, epoch: int, steps: int | None) -> None:
        self._steps, self._step = steps, 0
        self._reporter.update(epoch=epoch, epochs=self._epochs, step=0, steps=steps, force=True)

    def step(self, loss: float | None = None, accuracy: float | None = None) -> None:
        self._step += 1
        self._reporter.update(step=self._step, loss=loss)


def make_progress(progress: bool | None, epochs: int, description: str = "train"):
    """A :class:`RichProgress` when enabled (see :func:`progress_enabled`); inside a sweep's
    trial a :class:`ReporterProgress`; else :class:`NullProgress`."""
    if progress_enabled(progress):
        return RichProgress(epochs, description)
    reporter = _REPORTER.get()
    return ReporterProgress(reporter, epochs) if reporter is not None else NullProgress()
