"""The driver loop of :func:`~hiddenstruct.trials.executors.run_trials`: claim under a
lease, run, record, retry crashed trials, wait for trials other processes hold.

* A trial is claimed only when no other live process holds it (see
  :mod:`hiddenstruct.trials.lease`); the ones held elsewhere are waited for (polled) and
  taken over when their lease goes stale, or counted as finished elsewhere.
* An outcome is written only while this driver still holds that attempt, so two sweeps
  never both store a result or metrics for one trial.
* A trial whose worker process died is run again, up to ``max_attempts`` times in this sweep.
* On Ctrl-C / SIGTERM (:class:`KeyboardInterrupt`), the trials this driver holds go back to
  ``pending`` and :class:`~hiddenstruct.errors.Interrupted` is raised with a one-line note.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from hiddenstruct.errors import Interrupted, signal_number
from hiddenstruct.trials.lease import Heartbeat, Owner, blocking_owner
from hiddenstruct.trials.store import TrialStore

POLL_SECONDS = 1.0


class Sweep:
    """One run of a list of trial hashes against a store (see the module doc)."""

    def __init__(
        self,
        store: TrialStore,
        make_job: Callable[[str, int], Any],
        retry_failed: bool,
        max_attempts: int,
        wait_for_others: bool = True,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.store, self.make_job = store, make_job
        self.retry_failed, self.max_attempts = retry_failed, max_attempts
        self.wait_for_others, self.poll_seconds = wait_for_others, poll_seconds
        self.held: dict[str, int] = {}  # hash -> attempt this driver holds
        self.crashes: Counter[str] = Counter()
        self.counts = Counter()  # claimed, failed, elsewhere, lost, skipped_held
        self.failed_before: set[str] = set()
        self.notes: list[str] = []

    def run(
        self,
        executor,
        execute: Callable,
        hashes: list[str],
        record_outcome: Callable[[Any], None] | None = None,
    ) -> None:
        """Run ``hashes`` to completion; ``record_outcome`` is called after each outcome."""
        self.failed_before = {
            h for h in hashes if (rec := self.store.get(h)) is not None and rec.status == "failed"
        }
        beat = max(0.2, min(10.0, self.store.stale_after / 4))
        pending = list(hashes)
        try:
            with Heartbeat(self.store.path, self.store.owner, beat):
                while pending:
                    elsewhere: dict[str, Owner] = {}
                    retry: list[str] = []
                    for outcome in executor.map_unordered(execute, self._jobs(pending, elsewhere)):
                        self._record(outcome, retry)
                        if record_outcome is not None:
                            record_outcome(outcome)
                    pending = retry + self._wait(elsewhere, record_outcome)
        except KeyboardInterrupt as err:
            released = self.store.release(list(self.held))
            signum = signal_number(err)
            raise Interrupted(
                signum,
                f"{released} running trial(s) put back to pending; run the same command "
                "again to resume",
            ) from None

    def _jobs(self, hashes: Iterable[str], elsewhere: dict[str, Owner]) -> Iterator[Any]:
        for trial_hash in hashes:
            retry = self.retry_failed and trial_hash in self.failed_before
            claim = self.store.try_claim(trial_hash, retry_failed=retry)
            if claim.held_by is not None:
                elsewhere[trial_hash] = claim.held_by
                continue
            if not claim.ok:  # finished meanwhile by a concurrent sweep
                self.counts["elsewhere"] += 1
                continue
            self.counts["claimed"] += trial_hash not in self.crashes
            self.held[trial_hash] = claim.attempt
            yield self.make_job(trial_hash, claim.attempt)

    def _record(self, outcome, retry: list[str]) -> None:
        attempt = self.held.get(outcome.hash)
        if outcome.crashed:
            self.crashes[outcome.hash] += 1
            if self.crashes[outcome.hash] < self.max_attempts:
                retry.append(outcome.hash)  # still held by us; the next claim re-takes it
                self.notes.append(f"trial {outcome.hash[:12]}: {outcome.error}; retrying")
                return
        if outcome.ok:
            written = self.store.finish(
                outcome.hash,
                outcome.result,
                outcome.metrics,
                outcome.artifacts,
                outcome.started_at,
                attempt=attempt,
            )
        else:
            self.counts["failed"] += 1
            written = self.store.fail(
                outcome.hash,
                outcome.error or "unknown error",
                outcome.metrics,
                outcome.started_at,
                attempt=attempt,
            )
        self.held.pop(outcome.hash, None)
        if not written:
            self.counts["lost"] += 1
            self.notes.append(
                f"trial {outcome.hash[:12]}: another process took it over (this process's "
                "lease went stale); its outcome here was not stored"
            )

    def _wait(self, elsewhere: dict[str, Owner], record_outcome) -> list[str]:
        """Poll trials other processes hold until they finish or their lease goes stale."""
        if not elsewhere:
            return []
        owners = sorted({o.describe() for o in elsewhere.values()})
        if not self.wait_for_others:
            self.counts["skipped_held"] += len(elsewhere)
            self.notes.append(
                f"{len(elsewhere)} trial(s) skipped: running in another process "
                f"({', '.join(owners)})"
            )
            return []
        print(
            f"waiting for {len(elsewhere)} trial(s) running in another process "
            f"({', '.join(owners)})",
            file=sys.stderr,
        )
        while True:
            claimable = []
            for trial_hash in list(elsewhere):
                record = self.store.get(trial_hash)
                if record.status in ("done", "failed"):
                    del elsewhere[trial_hash]
                    self.counts["elsewhere"] += 1
                    if record_outcome is not None:
                        record_outcome(None)
                elif record.status == "pending" or self._stale(trial_hash):
                    claimable.append(trial_hash)
            if claimable or not elsewhere:
                return list(elsewhere)  # the claimable ones and those still held (re-checked)
            time.sleep(self.poll_seconds)

    def _stale(self, trial_hash: str) -> bool:
        row = self.store._conn.execute(  # noqa: SLF001 - lease columns are store internals
            "SELECT lease_owner, heartbeat_at FROM trials WHERE hash = ?", (trial_hash,)
        ).fetchone()
        owner = blocking_owner(
            row["lease_owner"], row["heartbeat_at"], self.store.stale_after, time.time()
        )
        return owner is None
