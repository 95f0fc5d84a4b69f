"""Leases on running trials: who holds a trial (host, pid, process start time) and whether
that holder is still alive.

A sweep's driver process owns the trials it claims; it refreshes a heartbeat on all of them
every few seconds (:class:`Heartbeat`). Another process may take a ``running`` trial over only
when its lease is *stale*: the owner runs on this host and is gone (pid absent or reused), or
no heartbeat came for ``stale_after`` seconds (owners on other hosts). Rows of 0.1.0 stores
that are ``running`` without an owner count as stale (they were left by a crash).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_STALE_AFTER = 120.0  # seconds without a heartbeat before another host's lease is stale
LEASE_COLUMNS = {"lease_owner": "TEXT", "heartbeat_at": "REAL"}


def _process_start(pid: int) -> str:
    """The kernel's start time of ``pid`` (clock ticks since boot) or '' where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22 counted after the command name


@dataclass(frozen=True)
class Owner:
    """The process holding a lease: ``host:pid:start``."""

    host: str
    pid: int
    start: str

    @classmethod
    def current(cls) -> Owner:
        """This process."""
        return cls(socket.gethostname(), os.getpid(), _process_start(os.getpid()))

    @classmethod
    def parse(cls, text: str) -> Owner:
        host, pid, start = text.rsplit(":", 2)
        return cls(host, int(pid), start)

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.start}"

    def describe(self) -> str:
        """Short human form: ``pid 1234 on host``."""
        return f"pid {self.pid} on {self.host}"

    def alive(self) -> bool | None:
        """True/False for an owner on this host; None when it runs elsewhere (unknowable)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, owned by another user
        return not self.start or _process_start(self.pid) in ("", self.start)


def blocking_owner(
    owner_text: str | None, heartbeat_at: float | None, stale_after: float, now: float
) -> Owner | None:
    """The other process whose live lease keeps a ``running`` row from us, else None.

    Our own lease never blocks (a sweep may re-claim what it holds); a lease is stale when its
    owner on this host is gone or, for any owner, no heartbeat came for ``stale_after`` s.
    """
    if not owner_text:
        return None
    try:
        owner = Owner.parse(owner_text)
    except ValueError:
        return None
    if owner == Owner.current() or owner.alive() is False:
        return None
    fresh = heartbeat_at is not None and now - heartbeat_at < stale_after
    return owner if fresh else None


def add_lease_columns(conn: sqlite3.Connection) -> None:
    """Add the lease columns to a store made before they existed (idempotent)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(trials)")}
    for name, kind in LEASE_COLUMNS.items():
        if name not in have:
            conn.execute(f"ALTER TABLE trials ADD COLUMN {name} {kind}")


class Heartbeat:
    """Background thread refreshing ``heartbeat_at`` of every trial this owner holds."""

    def __init__(self, path: Path, owner: Owner, interval: float, timeout: float = 30.0) -> None:
        self._path, self._owner, self._interval, self._timeout = path, owner, interval, timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="hiddenstruct-heartbeat", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._timeout)

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None)
        try:
            while not self._stop.wait(self._interval):
                try:
                    conn.execute(
                        "UPDATE trials SET heartbeat_at = ? WHERE lease_owner = ? "
                        "AND status = 'running'",
                        (time.time(), str(self._owner)),
                    )
                except sqlite3.Error:
                    continue  # busy or closing; the next beat tries again
        finally:
            conn.close()
