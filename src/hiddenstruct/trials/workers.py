"""A pool of worker processes that survives the death of one of them.

Each worker is a spawned process with its own pipe and runs one trial at a time, so when a
worker dies (killed, out of memory, ``os._exit`` in a trial) the driver knows exactly which
trial it held: only that trial gets a *crashed* outcome, a fresh worker replaces the dead one
and the sweep goes on. Workers ignore SIGINT (the driver decides what an interrupt means) and
exit on their own within about a second once the driver is gone, even after ``kill -9`` of
the driver: a watchdog thread checks that the parent process is still the one that started
them. When the driver stops (done, Ctrl-C, SIGTERM, an error), every worker is terminated.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection as mpc
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

WATCHDOG_SECONDS = 0.5  # how often a worker checks that its driver is alive
STOP_SECONDS = 3.0  # how long a worker may take to exit after SIGTERM before SIGKILL


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(WATCHDOG_SECONDS)
        if os.getppid() != parent_pid:  # re-parented: the driver is gone
            os._exit(70)


def _worker_main(conn, threads: int, parent_pid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    import torch

    torch.set_num_threads(threads)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        fn, job = message
        conn.send(fn(job))


def describe_exit(exitcode: int | None) -> str:
    """'killed by SIGKILL' / 'exit code 3' for a dead process's exit code."""
    if exitcode is None:
        return "vanished"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class _Worker:
    def __init__(self, context, threads: int) -> None:
        here, there = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(there, threads, os.getpid()), daemon=True
        )
        self.process.start()
        there.close()
        self.conn = here
        self.job: Any = None

    def send(self, fn: Callable, job: Any) -> None:
        self.job = job
        self.conn.send((fn, job))

    def stop(self, graceful: bool) -> None:
        if graceful and self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(STOP_SECONDS)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(STOP_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(STOP_SECONDS)
        self.conn.close()


def run_pool(
    fn: Callable[[Any], Any],
    jobs: Iterable[Any],
    workers: int,
    threads: int,
    crashed: Callable[[Any, str], Any],
) -> Iterator[Any]:
    """Yield ``fn(job)`` for every job, run on ``workers`` processes, as they complete.

    A job whose worker died yields ``crashed(job, reason)`` instead. Jobs are taken from
    ``jobs`` only when a worker is free, so only running jobs are ever claimed.
    """
    context = multiprocessing.get_context("spawn")
    jobs = iter(jobs)
    pool: list[_Worker] = []
    finished = False
    try:
        exhausted = False
        while True:
            for worker in pool + [None] * (workers - len(pool)):
                if exhausted or (worker is not None and worker.job is not None):
                    continue
                job = next(jobs, None)
                if job is None:
                    exhausted = True
                    break
                if worker is None:
                    worker = _Worker(context, threads)
                    pool.append(worker)
                worker.send(fn, job)
            busy = [w for w in pool if w.job is not None]
            if not busy:
                break
            mpc.wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                outcome = _collect(worker, crashed)
                if outcome is None:
                    continue
                if not worker.process.is_alive():
                    worker.stop(graceful=False)
                    pool[pool.index(worker)] = _Worker(context, threads)
                yield outcome
        finished = True
    finally:
        for worker in pool:
            worker.stop(graceful=finished)


def _collect(worker: _Worker, crashed: Callable[[Any, str], Any]) -> Any:
    """The worker's outcome if it sent one or died; None while it is still running."""
    job = worker.job
    if worker.conn.poll():
        try:
            outcome = worker.conn.recv()
        except (EOFError, OSError):
            outcome = None
        if outcome is not None:
            worker.job = None
            return outcome
    if worker.process.is_alive():
        return None
    worker.process.join()
    worker.job = None
    return crashed(job, describe_exit(worker.process.exitcode))
