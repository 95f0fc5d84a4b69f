"""Progress display for training: rich bars on a terminal, nothing otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

# Set while a trial runs inside a sweep, whose own progress display must not be nested.
_SUPPRESSED: ContextVar[bool] = ContextVar("hiddenstruct_progress_suppressed", default=False)


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


def make_progress(progress: bool | None, epochs: int, description: str = "train"):
    """A :class:`RichProgress` when enabled (see :func:`progress_enabled`), else :class:`NullProgress`."""
    return RichProgress(epochs, description) if progress_enabled(progress) else NullProgress()
