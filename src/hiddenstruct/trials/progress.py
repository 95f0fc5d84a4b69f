"""What a sweep shows while it runs: trials done / failed, each running trial's label and
epoch/step, and an ETA from the finished trials' durations and the running trials' progress.

On a terminal it is a live rich display; off a terminal, one plain log line every
``interval`` seconds (so a log file or CI output shows progress without control characters).
Running trials report through :func:`hiddenstruct.training.progress.report_trial_progress`:
one small JSON file per trial in a temporary folder that this display reads.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

LABEL_KEYS = (
    "mode", "family", "index", "n", "hidden", "method", "schedule", "retrain", "search",
    "repeat", "seed",
)  # fmt: skip


def trial_label(config: dict[str, Any], limit: int = 60) -> str:
    """A short label of a trial from the config keys that usually tell trials apart."""
    parts = []
    for key in LABEL_KEYS:
        if key not in config or isinstance(config[key], dict):
            continue
        value = config[key]
        if isinstance(value, list):
            value = "-".join(map(str, value))
        if isinstance(value, bool):
            parts.append(key if value else f"no {key}")
        else:
            parts.append(
                f"{key} {value}" if key in ("seed", "repeat", "index", "n") else str(value)
            )
    if not parts and isinstance(config.get("trials"), list):
        parts.append(f"pack of {len(config['trials'])}")
    text = " · ".join(parts) or "trial"
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def progress_fraction(info: dict[str, Any]) -> float | None:
    """Fraction of the trial's training done from its reported epoch/step (None if unknown)."""
    epoch, epochs = info.get("epoch"), info.get("epochs")
    if not epoch or not epochs:
        return None
    step, steps = info.get("step") or 0, info.get("steps")
    within = step / steps if steps else 0.0
    return min(1.0, max(0.0, (epoch - 1 + within) / epochs))


def estimate_eta(
    durations: list[float],
    running: list[tuple[float, float | None]],
    pending: int,
    workers: int,
) -> float | None:
    """Seconds left: finished trials give the typical duration D (median); a running trial
    needs D − elapsed more (at least D/10), or — before any trial finished — elapsed·(1−f)/f
    from its reported fraction f. None only while nothing is known yet."""
    if durations:
        typical = statistics.median(durations)
    else:
        rates = [elapsed / f for elapsed, f in running if f and f > 0.02]
        if not rates:
            return None
        typical = statistics.mean(rates)
    left = [max(typical - elapsed, 0.1 * typical) for elapsed, _ in running]
    total = sum(left) + pending * typical
    return max(max(left, default=0.0), total / max(1, workers))


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    return str(dt.timedelta(seconds=int(round(seconds))))


class SweepProgress:
    """Live display (``mode="tty"``), periodic log lines (``"log"``) or nothing (``"off"``)."""

    def __init__(self, experiment: str, total: int, mode: str, interval: float = 30.0) -> None:
        self.experiment, self.total, self.mode, self.interval = experiment, total, mode, interval
        self.folder: str | None = (
            tempfile.mkdtemp(prefix="hs-progress-") if mode != "off" and total else None
        )
        self.durations: list[float] = []
        self.failed = 0
        self.started = time.time()
        self.max_running = 1
        self._stop = threading.Event()
        self._live = self._thread = None

    def running(self) -> list[dict[str, Any]]:
        """The reports of the trials running now (files of finished trials are removed)."""
        found = []
        for path in Path(self.folder).glob("*.json") if self.folder else ():
            try:
                found.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        self.max_running = max(self.max_running, len(found))
        return found

    def eta(self, running: list[dict[str, Any]]) -> float | None:
        now = time.time()
        spans = [(now - r.get("started", now), progress_fraction(r)) for r in running]
        pending = self.total - len(self.durations) - self.failed - len(running)
        return estimate_eta(self.durations, spans, max(pending, 0), self.max_running)

    def status_line(self, running: list[dict[str, Any]]) -> str:
        done = len(self.durations) + self.failed
        failed = f", {self.failed} failed" if self.failed else ""
        elapsed = _clock(time.time() - self.started)
        return f"{self.experiment}: {done}/{self.total} trials{failed} · {elapsed} elapsed · ETA {_clock(self.eta(running))}"

    @staticmethod
    def running_line(info: dict[str, Any]) -> str:
        text = info.get("label", "trial")
        if info.get("epoch"):
            text += f" · epoch {info['epoch']}/{info.get('epochs', '?')}"
            if info.get("steps"):
                text += f" step {info.get('step', 0)}/{info['steps']}"
        extra = {k: v for k, v in info.items() if k not in _KNOWN}
        text += "".join(f" · {k} {v}" for k, v in extra.items())
        return text + f" · {_clock(time.time() - info.get('started', time.time()))}"

    def _renderable(self):
        from rich.text import Text

        running = self.running()
        lines = [Text(self.status_line(running), style="bold")]
        lines += [Text(f"  ▸ {self.running_line(r)}") for r in running]
        return Text("\n").join(lines)

    def _log_loop(self) -> None:
        while not self._stop.wait(self.interval):
            running = self.running()
            now = " | ".join(self.running_line(r) for r in running)
            print(
                self.status_line(running) + (f" | running: {now}" if now else ""),
                file=sys.stderr,
                flush=True,
            )

    def __enter__(self) -> SweepProgress:
        if self.mode == "tty" and self.folder:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(
                get_renderable=self._renderable,
                console=Console(stderr=True),
                refresh_per_second=2,
                transient=True,
            )
            self._live.__enter__()
        elif self.mode == "log" and self.folder:
            self._thread = threading.Thread(target=self._log_loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._live is not None:
            self._live.__exit__(*exc)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def finished(self, trial_hash: str, ok: bool, seconds: float) -> None:
        """Record a finished trial (its duration feeds the ETA) and drop its report."""
        if ok:
            self.durations.append(max(seconds, 0.0))
        else:
            self.failed += 1
        if self.folder:
            Path(self.folder, f"{trial_hash}.json").unlink(missing_ok=True)


_KNOWN = {"label", "started", "updated", "epoch", "epochs", "step", "steps", "loss"}


def progress_mode(progress: bool) -> str:
    """``"tty"`` when progress is on and stderr is a terminal, ``"log"`` off a terminal."""
    if not progress:
        return "off"
    return "tty" if bool(getattr(sys.stderr, "isatty", lambda: False)()) else "log"
