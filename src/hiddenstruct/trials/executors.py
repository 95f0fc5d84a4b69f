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

import importlib.util
import itertools
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hiddenstruct.errors import HiddenstructError, UsageError
from hiddenstruct.training.progress import report_trial_progress, suppress_progress
from hiddenstruct.trials.artifacts import artifact_root
from hiddenstruct.trials.config import THREADS_KEY
from hiddenstruct.trials.hashing import to_jsonable
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.progress import SweepProgress, progress_mode, trial_label
from hiddenstruct.trials.store import MetricRow, TrialRecord, TrialStore
from hiddenstruct.trials.sweep import Sweep
from hiddenstruct.trials.workers import run_pool


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


DEFAULT_MAX_ATTEMPTS = 2  # runs of a trial whose worker died, per sweep

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


def _crashed(job: TrialJob, err: BaseException | str) -> TrialOutcome:
    now = time.time()
    reason = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    return TrialOutcome(job.hash, False, None, f"worker crashed: {reason}", now, now, crashed=True)


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
            lambda job, why: _crashed(job, f"the worker process died ({why}) running this trial"),
        )


DEFAULT_RAY_TIMEOUT = 60.0  # seconds to reach a cluster or start a local Ray instance (our choice)


def parse_ray_address(address: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of a ``host:port`` or ``ray://host:port`` address; None for
    ``auto`` / ``local``, which Ray resolves itself. UsageError when malformed."""
    if address in ("auto", "local"):
        return None
    scheme, _, rest = address.rpartition("://")
    if scheme not in ("", "ray"):
        raise UsageError(
            f"--ray-address {address}: unknown scheme {scheme}://; give HOST:PORT of the "
            "cluster's head (e.g. 10.0.0.5:6379) or ray://HOST:10001 for Ray Client"
        )
    host, colon, port_text = rest.rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(
            f"--ray-address {address}: expected HOST:PORT (e.g. 10.0.0.5:6379) or "
            "ray://HOST:10001, with a port in 1..65535"
        )
    return scheme or "gcs", host, int(port_text)


def check_ray_address(address: str, timeout: float) -> None:
    """Before Ray is asked (it retries an unreachable address for minutes): the address is
    well formed, its host resolves, its port accepts a connection within ``timeout`` seconds,
    and a ``ray://`` address has the Ray Client extra installed. UsageError naming the
    address and the fix otherwise."""

    parsed = parse_ray_address(address)
    if parsed is None:
        return
    scheme, host, port = parsed
    if scheme == "ray" and importlib.util.find_spec("grpc") is None:
        raise UsageError(
            f"--ray-address {address}: a ray:// address needs Ray Client, which is not "
            "installed: pip install 'ray[client]' (or give the head's HOST:6379 address)"
        )
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UsageError(
            f"--ray-address {address}: unknown host {host!r}; check the name or give the "
            "head node's IP address"
        ) from None
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as err:
        why = f"no answer in {timeout:g} s" if isinstance(err, TimeoutError) else err.strerror
        raise UsageError(
            f"--ray-address {address}: nothing answers at {host}:{port} ({why or err}); start "
            "the cluster (`ray start --head`), check the address and firewall, or raise "
            "--ray-timeout"
        ) from None


class RayExecutor:
    """Runs trials as Ray tasks on a cluster (``address``) or a local Ray instance.

    :meth:`connect` reaches the cluster (or starts a local instance) within ``timeout``
    seconds and is called before any store is created; Ctrl-C and SIGTERM keep their
    meaning under Ray (Ray's own SIGTERM handler is replaced by the one that was there), and
    an interrupted sweep cancels its Ray tasks and shuts down the Ray instance it started.
    """

    def __init__(
        self,
        address: str | None = None,
        num_cpus_per_trial: float = 1.0,
        timeout: float = DEFAULT_RAY_TIMEOUT,
    ) -> None:
        if not timeout > 0:
            raise UsageError(f"--ray-timeout must be > 0 seconds, got {timeout}")
        self.address = address
        self.num_cpus_per_trial = num_cpus_per_trial
        self.timeout = float(timeout)
        self._started = False  # this executor called ray.init (so it shuts Ray down)

    @staticmethod
    def _import_ray():
        try:
            import ray
        except ImportError:
            raise HiddenstructError(
                "the Ray executor needs ray, which is not installed: "
                "pip install 'hiddenstruct[ray]' (or choose --executor local|process)"
            ) from None
        return ray

    def connect(self) -> None:
        """Reach the cluster or start a local Ray instance, within ``timeout`` seconds."""

        if self.address is not None:  # a wrong address is named even where Ray is missing
            check_ray_address(self.address, self.timeout)
        ray = self._import_ray()
        if ray.is_initialized():
            return
        if self.address is not None:
            self._probe_cluster()
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        failure: list[BaseException] = []
        ready, stop = threading.Event(), threading.Event()

        def start() -> None:  # in a thread: Ray then leaves the SIGTERM handler alone too
            try:
                ray.init(
                    address=self.address,
                    ignore_reinit_error=True,
                    log_to_driver=False,
                    include_dashboard=False,
                    logging_level=logging.ERROR,
                )
            except BaseException as err:  # reported by the caller
                failure.append(err)
                return
            finally:
                ready.set()
            # Ray's local processes are tied to the thread that started them (they get
            # PR_SET_PDEATHSIG): this thread stays until shutdown() or the process ends
            stop.wait()

        thread = threading.Thread(target=start, name="hiddenstruct-ray", daemon=True)
        thread.start()
        ready.wait(self.timeout)
        self._restore(handlers)
        where = self.address or "a local Ray instance"
        if not ready.is_set():
            raise UsageError(
                f"--ray-address {where}: Ray did not connect within {self.timeout:g} s; check "
                "that the cluster runs and matches this Ray version, or raise --ray-timeout"
            )
        if failure:
            first = (str(failure[0]).strip().splitlines() or [type(failure[0]).__name__])[0]
            raise UsageError(f"--ray-address {where}: Ray could not connect ({first[:200]})")
        self._started, self._stop = True, stop

    def _probe_cluster(self) -> None:
        """Connect once from a child process, killed after ``timeout`` seconds: Ray retries a
        wrong address for minutes and logs each retry from C++ on stderr, so the first try
        happens where both can be stopped and silenced."""

        code = (
            "import logging, sys, ray\n"
            "ray.init(address=sys.argv[1], log_to_driver=False, include_dashboard=False,"
            " logging_level=logging.ERROR)\nray.shutdown()\n"
        )
        try:
            done = subprocess.run(
                [sys.executable, "-c", code, self.address],
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env={**os.environ, "RAY_BACKEND_LOG_LEVEL": "error"},
            )
        except subprocess.TimeoutExpired:
            raise UsageError(
                f"--ray-address {self.address}: Ray did not connect within {self.timeout:g} s; "
                "check that a Ray cluster of this Ray version runs there (`ray status`), or "
                "raise --ray-timeout"
            ) from None
        if done.returncode != 0:
            lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            last = lines[-1][:200] if lines else f"exit status {done.returncode}"
            raise UsageError(
                f"--ray-address {self.address}: Ray could not connect ({last}); check the "
                "address (`ray status` on the head node prints it)"
            )

    @staticmethod
    def _restore(handlers) -> None:
        """Put back the signal handlers Ray replaced (SIGTERM must unwind like Ctrl-C)."""

        if threading.current_thread() is not threading.main_thread():
            return
        for sig, handler in handlers.items():
            # always re-set: Ray's C++ failure handler takes SIGTERM with sigaction, behind
            # Python's back (getsignal still shows the old handler), and dumps a stack on it
            if handler is not None:
                signal.signal(sig, handler)

    def shutdown(self) -> None:
        """Shut down the Ray instance this executor connected (no-op otherwise)."""
        if self._started:
            ray = self._import_ray()
            ray.shutdown()
            self._stop.set()  # the thread that started Ray ends
            self._started = False

    def map_unordered(self, fn, jobs):
        ray = self._import_ray()
        jobs = iter(jobs)
        if not ray.is_initialized():
            self.connect()
        remote = ray.remote(num_cpus=self.num_cpus_per_trial)(fn)
        # claims follow the cluster's capacity: submit a little more than it can run at once
        capacity = max(1, int(ray.cluster_resources().get("CPU", 1) / self.num_cpus_per_trial)) + 1
        pending = {remote.remote(job): job for job in itertools.islice(jobs, capacity)}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    job = pending.pop(ref)
                    try:
                        yield ray.get(ref)
                    except Exception as err:
                        yield _crashed(job, err)
                    following = next(jobs, None)
                    if following is not None:
                        pending[remote.remote(following)] = following
        except BaseException:  # Ctrl-C / SIGTERM / the sweep stopped: no task keeps running
            for ref in pending:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - best effort while stopping
                    pass
            self.shutdown()
            raise


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
    try:
        factory = EXECUTORS[kind]
    except KeyError:
        raise UsageError(f"unknown executor {kind!r}; choose one of {sorted(EXECUTORS)}") from None
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
