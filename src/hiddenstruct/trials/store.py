"""Durable trial store: an embedded SQLite database of trials, per-step metrics and artifacts.

A trial is identified by :func:`~hiddenstruct.trials.identity.trial_identity`: the
sha256 of its experiment and resolved config (paths left out). Stores of older versions are
migrated on open (``PRAGMA user_version``; see :mod:`hiddenstruct.trials.migration` and
:mod:`hiddenstruct.trials.store_open`).
WAL mode lets several processes read and write at once; every write is one transaction
(``BEGIN IMMEDIATE`` … ``COMMIT``), so a crash never leaves half a write.

Status life cycle: ``pending`` → ``running`` (claimed; ``attempts`` incremented, metrics of any
earlier attempt cleared) → ``done`` | ``failed``. A trial left ``running`` by a crash is claimed
again by the next sweep; ``done`` trials are never re-run.

Example::

    >>> store = TrialStore("runs/hiddenstruct.sqlite")
    >>> h = store.register("toy", {"lr": 0.1, "seed": 0})
    >>> store.claim(h); store.finish(h, {"accuracy": 0.9})
    >>> store.to_dataframe("toy")
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hiddenstruct.errors import HiddenstructError, UsageError
from hiddenstruct.outputs import refuse_dangling_link
from hiddenstruct.trials.hashing import (
    ADDED_LATER,
    added_field,
    config_hash,
    hashable_config,
    to_jsonable,
)
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.lease import DEFAULT_STALE_AFTER, Owner, blocking_owner
from hiddenstruct.trials.records import MetricRow, TrialRecord, record_from_row, trials_frame
from hiddenstruct.trials.store_checks import cannot_write_message, write_problem
from hiddenstruct.trials.store_open import connect, connect_read_only, open_error

__all__ = [
    "ADDED_LATER",
    "STATUSES",
    "MetricRow",
    "TrialRecord",
    "TrialStore",
    "added_field",
    "config_hash",
    "hashable_config",
]

STATUSES = ("pending", "running", "done", "failed")


def _dumps(value: Any) -> str:
    try:
        return json.dumps(to_jsonable(value), sort_keys=True, allow_nan=True)
    except (TypeError, ValueError) as err:
        raise UsageError(f"value is not JSON-serialisable: {err}") from None


@dataclass(frozen=True)
class Claim:
    """Outcome of :meth:`TrialStore.try_claim`: the attempt number, or why there is none."""

    attempt: int | None
    held_by: Owner | None = None  # another live process runs the trial

    @property
    def ok(self) -> bool:
        return self.attempt is not None


class TrialStore:
    """SQLite-backed store of trials; safe to open from several processes at once.

    ``stale_after``: seconds without a heartbeat after which another process's lease on a
    ``running`` trial may be taken over (an owner on this host that is gone is stale at once).
    """

    def __init__(
        self,
        path: str | Path,
        timeout: float = 60.0,
        stale_after: float = DEFAULT_STALE_AFTER,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.stale_after = stale_after
        self.read_only = read_only
        self.owner = Owner.current()
        self.failures: list[tuple[str, str]] = []  # (hash, error) failed through this object
        self._conn = (connect_read_only if read_only else connect)(self.path, timeout)

    @classmethod
    def for_reading(cls, path: str | Path) -> TrialStore:
        """An existing store for the read-only commands (``results list/show/export``,
        ``report --store``): opened as usual where it can be written, else read-only (a
        read-only file or folder, a full disk) — an intact store is never called damaged
        for where it lies."""
        path = Path(path)
        refuse_dangling_link(path, "read the trial store")
        if not path.is_file():
            raise HiddenstructError(
                f"no trial store at {path}; run an experiment first or pass --store FILE"
            )
        return cls(path, read_only=write_problem(path) is not None)

    def __reduce__(self):  # pickles as its path: each process opens its own connection
        return (type(self), (str(self.path), self.timeout, self.stale_after, self.read_only))

    def __repr__(self) -> str:
        return f"TrialStore({str(self.path)!r})"

    def close(self) -> None:
        """Close the connection (the store can not be used afterwards)."""
        self._conn.close()

    def __enter__(self) -> TrialStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back on any error."""
        if self.read_only:
            raise HiddenstructError(
                f"trial store {self.path} was opened read-only; {cannot_write_message(self.path)}"
            )
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise open_error(self.path, err) from None
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as err:
            raise open_error(self.path, err) from None

    # ---- writing -------------------------------------------------------------------------
    def register(self, experiment: str, config: Any, trial_hash: str | None = None) -> str:
        """Add a ``pending`` trial unless its hash is already stored; return the hash."""
        return self.register_many(experiment, [config], [trial_hash])[0]

    def register_many(
        self,
        experiment: str,
        configs: Iterable[Any],
        hashes: Iterable[str | None] | None = None,
    ) -> list[str]:
        """Register several configs in one transaction; return their hashes in order."""
        configs = list(configs)
        given = list(hashes) if hashes is not None else [None] * len(configs)
        rows = []
        for config, trial_hash in zip(configs, given, strict=True):
            rows.append(
                (trial_hash or trial_identity(experiment, config), experiment, _dumps(config))
            )
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO trials (hash, experiment, config, status) "
                "VALUES (?, ?, ?, 'pending')",
                rows,
            )
        return [row[0] for row in rows]

    def claim(self, trial_hash: str, retry_failed: bool = True) -> int | None:
        """Mark a trial ``running`` and return its attempt number; None when it must not run.

        ``done`` trials (and ``failed`` ones unless ``retry_failed``) are not claimed. Metrics and
        artifacts of an earlier, interrupted attempt are deleted so nothing is duplicated.
        A ``running`` trial another live process holds is not claimed (see :meth:`try_claim`).
        """
        return self.try_claim(trial_hash, retry_failed).attempt

    def try_claim(self, trial_hash: str, retry_failed: bool = True) -> Claim:
        """Like :meth:`claim`, but a trial another live process holds is left alone.

        The claim takes a lease for :attr:`owner` (refresh it with a
        :class:`~hiddenstruct.trials.lease.Heartbeat`); a ``running`` trial whose lease is
        stale (owner gone, or no heartbeat for :attr:`stale_after` s) is taken over.
        """
        with self._write() as conn:
            row = conn.execute(
                "SELECT status, lease_owner, heartbeat_at FROM trials WHERE hash = ?",
                (trial_hash,),
            ).fetchone()
            if row is None:
                raise UsageError(f"unknown trial {trial_hash}; register it first")
            if row["status"] == "done" or (row["status"] == "failed" and not retry_failed):
                return Claim(None)
            if row["status"] == "running":
                holder = blocking_owner(
                    row["lease_owner"], row["heartbeat_at"], self.stale_after, time.time()
                )
                if holder is not None:
                    return Claim(None, holder)
            now = time.time()
            conn.execute("DELETE FROM metrics WHERE hash = ?", (trial_hash,))
            conn.execute("DELETE FROM artifacts WHERE hash = ?", (trial_hash,))
            conn.execute(
                "UPDATE trials SET status = 'running', attempts = attempts + 1, started_at = ?, "
                "finished_at = NULL, error = NULL, result = NULL, lease_owner = ?, "
                "heartbeat_at = ? WHERE hash = ?",
                (now, str(self.owner), now, trial_hash),
            )
            attempt = conn.execute(
                "SELECT attempts FROM trials WHERE hash = ?", (trial_hash,)
            ).fetchone()[0]
            return Claim(attempt)

    def _holds(self, conn: sqlite3.Connection, trial_hash: str, attempt: int) -> bool:
        """Whether this store's owner still holds ``attempt`` of a ``running`` trial."""
        row = conn.execute(
            "SELECT status, attempts, lease_owner FROM trials WHERE hash = ?", (trial_hash,)
        ).fetchone()
        return (
            row is not None
            and row["status"] == "running"
            and row["attempts"] == attempt
            and row["lease_owner"] == str(self.owner)
        )

    def release(self, trial_hashes: Iterable[str]) -> int:
        """Put trials this owner holds back to ``pending`` (after an interrupt); returns how many."""
        released = 0
        with self._write() as conn:
            for trial_hash in trial_hashes:
                cursor = conn.execute(
                    "UPDATE trials SET status = 'pending', lease_owner = NULL, "
                    "heartbeat_at = NULL WHERE hash = ? AND status = 'running' "
                    "AND lease_owner = ?",
                    (trial_hash, str(self.owner)),
                )
                if cursor.rowcount:
                    conn.execute("DELETE FROM metrics WHERE hash = ?", (trial_hash,))
                    released += 1
        return released

    def _insert_logs(
        self,
        conn: sqlite3.Connection,
        trial_hash: str,
        metrics: Iterable[MetricRow],
        artifacts: Mapping[str, str | Path],
    ) -> None:
        conn.executemany(
            "INSERT INTO metrics (hash, step, name, value) VALUES (?, ?, ?, ?)",
            [(trial_hash, int(s), str(n), float(v)) for s, n, v in metrics],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO artifacts (hash, name, path) VALUES (?, ?, ?)",
            [(trial_hash, str(n), str(p)) for n, p in artifacts.items()],
        )

    def finish(
        self,
        trial_hash: str,
        result: Mapping[str, Any] | None,
        metrics: Iterable[MetricRow] = (),
        artifacts: Mapping[str, str | Path] | None = None,
        started_at: float | None = None,
        attempt: int | None = None,
    ) -> bool:
        """Store the result (and the attempt's metrics/artifacts) and mark the trial ``done``.

        With ``attempt``, only while this owner still holds that attempt (False otherwise).
        """
        payload = _dumps(result or {})
        with self._write() as conn:
            if attempt is not None and not self._holds(conn, trial_hash, attempt):
                return False
            self._insert_logs(conn, trial_hash, metrics, artifacts or {})
            conn.execute(
                "UPDATE trials SET status = 'done', result = ?, error = NULL, finished_at = ?, "
                "started_at = COALESCE(?, started_at) WHERE hash = ?",
                (payload, time.time(), started_at, trial_hash),
            )
        return True

    def add_artifacts(self, trial_hash: str, artifacts: Mapping[str, str | Path]) -> None:
        """Record more artifact files of a trial (e.g. a model saved after the sweep)."""
        with self._write() as conn:
            self._insert_logs(conn, trial_hash, (), artifacts)

    def fail(
        self,
        trial_hash: str,
        error: str,
        metrics: Iterable[MetricRow] = (),
        started_at: float | None = None,
        attempt: int | None = None,
    ) -> bool:
        """Mark the trial ``failed`` with its error text (metrics logged so far are kept).

        With ``attempt``, only while this owner still holds that attempt (False otherwise).
        """
        with self._write() as conn:
            if attempt is not None and not self._holds(conn, trial_hash, attempt):
                return False
            self._insert_logs(conn, trial_hash, metrics, {})
            conn.execute(
                "UPDATE trials SET status = 'failed', error = ?, finished_at = ?, "
                "started_at = COALESCE(?, started_at) WHERE hash = ?",
                (str(error), time.time(), started_at, trial_hash),
            )
        self.failures.append((trial_hash, str(error)))
        return True

    def log_metrics(self, trial_hash: str, rows: Iterable[MetricRow]) -> None:
        """Append ``(step, name, value)`` rows in one transaction."""
        with self._write() as conn:
            self._insert_logs(conn, trial_hash, rows, {})

    def log_artifact(self, trial_hash: str, name: str, path: str | Path) -> None:
        """Record (or replace) the path of a named artifact of a trial."""
        with self._write() as conn:
            self._insert_logs(conn, trial_hash, (), {name: path})

    # ---- reading -------------------------------------------------------------------------
    def get(self, trial_hash: str) -> TrialRecord | None:
        """The trial with this hash, or None."""
        row = self._conn.execute("SELECT * FROM trials WHERE hash = ?", (trial_hash,)).fetchone()
        return record_from_row(row) if row is not None else None

    def trials(self, experiment: str | None = None, status: str | None = None) -> list[TrialRecord]:
        """Trials, optionally filtered by experiment and status, oldest registration first."""
        if status is not None and status not in STATUSES:
            raise UsageError(f"unknown status {status!r}; choose one of {list(STATUSES)}")
        query, params = "SELECT * FROM trials WHERE 1 = 1", []
        if experiment is not None:
            query, params = query + " AND experiment = ?", [*params, experiment]
        if status is not None:
            query, params = query + " AND status = ?", [*params, status]
        rows = self._conn.execute(query + " ORDER BY rowid", params).fetchall()
        return [record_from_row(row) for row in rows]

    def experiments(self) -> list[str]:
        """Names of the experiments with at least one trial."""
        rows = self._conn.execute("SELECT DISTINCT experiment FROM trials ORDER BY experiment")
        return [row[0] for row in rows]

    def metrics(self, trial_hash: str) -> list[MetricRow]:
        """``(step, name, value)`` rows of a trial in logging order."""
        rows = self._conn.execute(
            "SELECT step, name, value FROM metrics WHERE hash = ? ORDER BY rowid", (trial_hash,)
        )
        return [(row[0], row[1], row[2]) for row in rows]

    def artifacts(self, trial_hash: str) -> dict[str, str]:
        """Artifact name → path of a trial."""
        rows = self._conn.execute("SELECT name, path FROM artifacts WHERE hash = ?", (trial_hash,))
        return {row[0]: row[1] for row in rows}

    def to_dataframe(self, experiment: str | None = None):
        """One row per trial: bookkeeping columns, then ``config.*`` and ``result.*`` flattened.

        Nested lists are kept as JSON text so the frame exports to CSV and Parquet alike.
        """
        return trials_frame(self.trials(experiment))

    def metrics_dataframe(self, experiment: str | None = None):
        """Long table ``hash, step, name, value`` (joined with the experiment name)."""
        import pandas as pd

        query = (
            "SELECT t.experiment, m.hash, m.step, m.name, m.value FROM metrics m "
            "JOIN trials t ON t.hash = m.hash"
        )
        params: list[str] = []
        if experiment is not None:
            query, params = query + " WHERE t.experiment = ?", [experiment]
        rows = self._conn.execute(query + " ORDER BY m.rowid", params).fetchall()
        return pd.DataFrame(
            [tuple(r) for r in rows], columns=["experiment", "hash", "step", "name", "value"]
        )
