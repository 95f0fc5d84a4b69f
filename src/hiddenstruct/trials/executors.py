"""Run a sweep of trials sequentially, in a local process pool or on Ray, with identical results.

A trial function is a module-level (picklable) ``fn(config: dict, log: TrialLogger) -> dict``
returning a JSON-serialisable result. :func:`run_trials` registers every config in the store,
skips the ``done`` ones, claims the rest, runs them on an executor and writes each outcome in
one transaction. Each trial is seeded (``config["seed"]`` when present, else from its hash)
right before it runs, so where it runs does not change its result. A failing trial is stored as
``failed`` with its traceback and the sweep goes on.

Only the driver process writes to the store; workers return their metrics with the result. A
Ray cluster therefore needs no shared file system.

Example::

    >>> records = run_trials("toy", [{"lr": 0.1, "seed": s} for s in range(4)], toy_trial,
    ...                      TrialStore("runs/hiddenstruct.sqlite"), make_executor("process", 2))
"""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hiddenstruct.errors import UsageError, lookup
from hiddenstruct.trials.artifacts import artifact_root
from hiddenstruct.trials.hashing import to_jsonable
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.job import (
    TrialFn,
    TrialJob,
    TrialLogger,
    TrialOutcome,
    crashed_outcome,
    execute_trial,
    trial_seed,
    trial_threads,
)
from hiddenstruct.trials.progress import SweepProgress, progress_mode, trial_label
from hiddenstruct.trials.ray_executor import (
    DEFAULT_RAY_TIMEOUT,
    RayExecutor,
    check_ray_address,
    parse_ray_address,
)
from hiddenstruct.trials.store import TrialRecord, TrialStore
from hiddenstruct.trials.sweep import Sweep
from hiddenstruct.trials.workers import run_pool

# re-exported: callers import these from here (one trial: .job; Ray: .ray_executor)
__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_RAY_TIMEOUT",
    "EXECUTORS",
    "Executor",
    "LocalExecutor",
    "ProcessPoolExecutor",
    "RayExecutor",
    "SweepSummary",
    "TrialFn",
    "TrialJob",
    "TrialLogger",
    "TrialOutcome",
    "check_ray_address",
    "execute_trial",
    "make_executor",
    "parse_ray_address",
    "run_trials",
    "trial_seed",
    "trial_threads",
]

DEFAULT_MAX_ATTEMPTS = 2  # runs of a trial whose worker died, per sweep


class Executor(Protocol):
    """Runs ``execute_trial`` on jobs and yields outcomes as they complete (any order).

    ``jobs`` is consumed lazily: a job is claimed (marked running) in the store when the
    executor takes it, so an executor should take one only when it can start it soon.
    """

    def map_unordered(
        self, fn: Callable[[TrialJob], TrialOutcome], jobs: Iterable[TrialJob]
    ) -> Iterator[TrialOutcome]: ...


class LocalExecutor:
    """Runs trials one after another in this process."""

    def map_unordered(self, fn, jobs):
        for job in jobs:
            yield fn(job)


class ProcessPoolExecutor:
    """Runs trials in a pool of ``workers`` spawned processes.

    Each worker starts with ``threads_per_worker`` torch threads (default 1, as every
    experiment's ``--threads``: measured fastest for small models on a shared machine, see
    ``benchmarks/bench_threads.py``); a trial's own ``threads`` key takes precedence.
    """

    def __init__(self, workers: int = 2, threads_per_worker: int | None = None) -> None:
        if workers < 1:
            raise UsageError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.threads_per_worker = threads_per_worker or 1

    def map_unordered(self, fn, jobs):
        jobs = iter(jobs)
        first = next(jobs, None)
        if first is None:
            return
        try:
            pickle.dumps(first.fn)
        except Exception as err:
            raise UsageError(
                f"the trial function cannot be sent to worker processes ({err}); "
                "define it at module level (not a lambda or closure)"
            ) from None
        yield from run_pool(
            fn,
            itertools.chain([first], jobs),
            self.workers,
            self.threads_per_worker,
            lambda job, why: crashed_outcome(
                job, f"the worker process died ({why}) running this trial"
            ),
        )


EXECUTORS: dict[str, Callable[..., Executor]] = {
    "local": lambda workers, ray_address, ray_timeout: LocalExecutor(),
    "process": lambda workers, ray_address, ray_timeout: ProcessPoolExecutor(workers),
    "ray": lambda workers, ray_address, ray_timeout: RayExecutor(ray_address, timeout=ray_timeout),
}


def make_executor(
    kind: str | None = None,
    workers: int = 1,
    ray_address: str | None = None,
    max_attempts: int | None = None,
    ray_timeout: float = DEFAULT_RAY_TIMEOUT,
) -> Executor:
    """An executor by name; ``kind=None`` means local for one worker, else a process pool.

    ``max_attempts``: runs of a trial whose worker died, for every :func:`run_trials` on this
    executor (how a sweep runs, not what a trial computes, so not part of any identity).
    ``ray_timeout``: seconds Ray may take to connect (see :meth:`RayExecutor.connect`).
    """
    if max_attempts is not None and max_attempts < 1:
        raise UsageError(f"--max-attempts must be >= 1, got {max_attempts}")
    if kind is None:
        kind = "local" if workers <= 1 else "process"
    factory = lookup(EXECUTORS, kind, "executor")
    executor = factory(workers, ray_address, ray_timeout)
    if max_attempts is not None:
        executor.max_attempts = max_attempts
    return executor


@dataclass(frozen=True)
class SweepSummary:
    """Counts of one :func:`run_trials` call."""

    total: int
    skipped: int
    done: int
    failed: int
    elsewhere: int = 0  # finished by a concurrent sweep while this one ran
    held_elsewhere: int = 0  # skipped because another live process runs them

    def __str__(self) -> str:
        text = (
            f"{self.total} trials: {self.skipped} already done (skipped), "
            f"{self.done} run ok, {self.failed} failed"
        )
        if self.elsewhere:
            text += f", {self.elsewhere} finished by another process"
        if self.held_elsewhere:
            text += f", {self.held_elsewhere} still running in another process (skipped)"
        return text


def _wants_run(record: TrialRecord | None, retry_failed: bool) -> bool:
    if record is None:
        return True
    return record.status != "done" and (retry_failed or record.status != "failed")


def run_trials(
    experiment: str,
    configs: Sequence[Any],
    fn: TrialFn,
    store: TrialStore | str | Path,
    executor: Executor | None = None,
    progress: bool = True,
    retry_failed: bool = True,
    added: Mapping[str, Any] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    wait_for_others: bool = True,
) -> list[TrialRecord]:
    """Run every config not yet ``done``; return all their records in input order.

    ``configs`` are dicts or dataclasses (passed to ``fn`` as plain dicts); trials with equal
    identity (:func:`~hiddenstruct.trials.identity.trial_identity`, given the ``added``
    fields' defaults) run once.
    ``progress``: show trials done, each running trial's label and epoch/step and an ETA (a
    live display on a terminal, a log line every 30 s otherwise) and print a summary line.
    ``retry_failed``: also re-run trials that failed before (default True).
    ``max_attempts``: runs of a trial whose worker process died, in this sweep (default 2;
    an executor's own ``max_attempts``, set by :func:`make_executor`, takes precedence).
    ``wait_for_others``: wait for trials another live process is running (default) instead
    of skipping them. Ctrl-C / SIGTERM put the held trials back to ``pending`` and raise
    :class:`~hiddenstruct.errors.Interrupted`.
    """
    executor = executor or LocalExecutor()
    max_attempts = getattr(executor, "max_attempts", max_attempts)
    if max_attempts < 1:
        raise UsageError(f"max_attempts must be >= 1, got {max_attempts}")
    store = store if isinstance(store, TrialStore) else TrialStore(store)
    resolved = [to_jsonable(c) for c in configs]
    hashes = [trial_identity(experiment, c, added) for c in configs]
    unique = dict(zip(hashes, resolved, strict=True))
    store.register_many(experiment, unique.values(), unique.keys())
    to_run = [h for h in unique if _wants_run(store.get(h), retry_failed)]
    artifacts = str(artifact_root(store.path))

    def make_job(trial_hash: str, attempt: int) -> TrialJob:
        config = unique[trial_hash]
        seed, label = trial_seed(config, trial_hash), trial_label(config)
        return TrialJob(
            experiment, trial_hash, config, fn, seed, attempt, label, bar.folder, artifacts
        )

    def record(outcome: TrialOutcome | None) -> None:
        if outcome is not None and outcome.hash not in sweep.held:  # not a crash being retried
            bar.finished(outcome.hash, outcome.ok, outcome.finished_at - outcome.started_at)

    sweep = Sweep(store, make_job, retry_failed, max_attempts, wait_for_others)
    with SweepProgress(experiment, len(to_run), progress_mode(progress)) as bar:
        sweep.run(executor, execute_trial, to_run, record)
    failed, ran = sweep.counts["failed"], sweep.counts["claimed"]
    summary = SweepSummary(
        len(unique),
        len(unique) - len(to_run),
        ran - failed - sweep.counts["lost"],
        failed,
        sweep.counts["elsewhere"],
        sweep.counts["skipped_held"],
    )
    if progress:
        from rich.console import Console

        console = Console(stderr=True)
        for note in sweep.notes:
            console.print(f"[yellow]{experiment}: {note}[/yellow]", highlight=False)
        style = "red" if failed else "green"
        console.print(f"[{style}]{experiment}: {summary}[/{style}]")
    records = {rec.hash: rec for rec in (store.get(h) for h in unique)}
    return [records[h] for h in hashes]
