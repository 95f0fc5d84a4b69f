"""One trial as a worker runs it: the job sent to the worker, the logger the trial writes its
metrics and artifacts to, and the outcome sent back (:func:`execute_trial`).

Executors (:mod:`.executors`, :mod:`.ray_executor`) move jobs and outcomes between the driver
and their workers; this module knows nothing of where a trial runs.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hiddenstruct.errors import UsageError
from hiddenstruct.training.progress import report_trial_progress, suppress_progress
from hiddenstruct.trials.config import THREADS_KEY
from hiddenstruct.trials.hashing import to_jsonable
from hiddenstruct.trials.store import MetricRow


class TrialLogger:
    """Collects a trial's per-step metrics and artifact paths; stored with its result."""

    def __init__(
        self,
        trial_hash: str,
        config: dict[str, Any],
        attempt: int = 1,
        artifact_root: str | None = None,
    ) -> None:
        self.hash = trial_hash
        self.config = config
        self.attempt = attempt
        self.artifact_root = artifact_root
        self.metrics: list[MetricRow] = []
        self.artifacts: dict[str, str] = {}

    def artifact_file(self, name: str, suffix: str = ".pt") -> Path | None:
        """Where to write artifact ``name`` (``<store folder>/artifacts/<hash>/<name><suffix>``);
        None when the sweep keeps no artifacts."""
        if self.artifact_root is None:
            return None
        return Path(self.artifact_root) / self.hash / f"{name}{suffix}"

    def metric(self, step: int, **values: float) -> None:
        """Log named scalar values at ``step`` (e.g. ``log.metric(3, val_accuracy=0.91)``)."""
        for name, value in values.items():
            self.metrics.append((int(step), name, float(value)))

    def artifact(self, name: str, path: str | Path) -> None:
        """Record the path of a file the trial wrote (figure, checkpoint, table); files under
        the artifact folder are recorded relative to the store's folder."""
        path = Path(path)
        if self.artifact_root is not None and path.is_relative_to(self.artifact_root):
            path = path.relative_to(Path(self.artifact_root).parent)
        self.artifacts[name] = str(path)


TrialFn = Callable[[dict[str, Any], TrialLogger], dict[str, Any] | None]


@dataclass(frozen=True)
class TrialJob:
    """Everything a worker needs to run one trial (picklable)."""

    experiment: str
    hash: str
    config: dict[str, Any]
    fn: TrialFn
    seed: int
    attempt: int = 1
    label: str = ""  # shown by the sweep's progress display
    progress_dir: str | None = None  # where the trial reports its epoch/step (None: nowhere)
    artifact_root: str | None = None  # <store folder>/artifacts (None: keep no artifacts)


@dataclass(frozen=True)
class TrialOutcome:
    """What a worker sends back: result or error, plus the logged metrics and artifacts."""

    hash: str
    ok: bool
    result: dict[str, Any] | None
    error: str | None
    started_at: float
    finished_at: float
    metrics: list[MetricRow] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)
    crashed: bool = False  # the process running it died: retried up to ``max_attempts``


def trial_seed(config: dict[str, Any], trial_hash: str) -> int:
    """``config["seed"]`` when it is an int, else the first 32 bits of the trial hash."""
    seed = config.get("seed")
    return (
        int(seed)
        if isinstance(seed, int) and not isinstance(seed, bool)
        else int(trial_hash[:8], 16)
    )


def trial_threads(config: Mapping[str, Any]) -> int | None:
    """The torch CPU threads a trial runs with: its ``threads`` key (every experiment's
    ``--threads``), None (torch's setting unchanged) when it has none."""
    threads = config.get(THREADS_KEY)
    return threads if isinstance(threads, int) and not isinstance(threads, bool) else None


def execute_trial(job: TrialJob) -> TrialOutcome:
    """Seed, run ``job.fn`` with the trial's torch threads (:func:`trial_threads`) and capture
    its result or error (never raises for trial errors)."""
    started = time.time()
    log = TrialLogger(job.hash, dict(job.config), job.attempt, job.artifact_root)
    # torch: imported when a trial runs
    from hiddenstruct.training.seeding import seed_everything, torch_threads

    seed_everything(job.seed)
    try:
        with (
            suppress_progress(),
            report_trial_progress(job.progress_dir, job.hash, job.label),
            torch_threads(trial_threads(job.config)),
        ):
            result = to_jsonable(job.fn(dict(job.config), log) or {})
        if not isinstance(result, dict):
            raise UsageError(f"a trial function must return a dict, got {type(result).__name__}")
    except Exception as err:  # the trial failed; the sweep goes on
        text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        return TrialOutcome(job.hash, False, None, text, started, time.time(), log.metrics)
    return TrialOutcome(
        job.hash, True, result, None, started, time.time(), log.metrics, log.artifacts
    )


def crashed_outcome(job: TrialJob, err: BaseException | str) -> TrialOutcome:
    now = time.time()
    reason = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    return TrialOutcome(job.hash, False, None, f"worker crashed: {reason}", now, now, crashed=True)
