"""Opening a trial store's SQLite file: its schema, the checks before anything is written, the
pragmas (WAL, ``busy_timeout``), the migration of an older store and the refusal of a newer one.

:func:`connect` opens (and creates or upgrades) a store to write; :func:`connect_read_only`
opens one without writing anything. Either returns a connection whose rows are
``sqlite3.Row``; every failure is one :class:`HiddenstructError` (:func:`open_error`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import hiddenstruct
from hiddenstruct.errors import HiddenstructError
from hiddenstruct.trials.lease import add_lease_columns
from hiddenstruct.trials.migration import SCHEMA_VERSION, migrate
from hiddenstruct.trials.store_checks import (
    cannot_write_message,
    check_existing_store,
    check_store_path,
    create_store_file,
    is_environment_error,
    open_read_only,
    record_writer,
    write_problem,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    hash TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    started_at REAL,
    finished_at REAL,
    error TEXT,
    result TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS trials_experiment ON trials (experiment, status);
CREATE TABLE IF NOT EXISTS metrics (
    hash TEXT NOT NULL REFERENCES trials (hash),
    step INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL
);
CREATE INDEX IF NOT EXISTS metrics_hash ON metrics (hash, step);
CREATE TABLE IF NOT EXISTS artifacts (
    hash TEXT NOT NULL REFERENCES trials (hash),
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (hash, name)
);
"""


def open_error(path: Path, err: Exception) -> HiddenstructError:
    """The one message for a store at ``path`` that cannot be opened or written (``err``)."""
    if isinstance(err, OSError) or is_environment_error(err) or write_problem(path):
        return HiddenstructError(cannot_write_message(path, err))
    return HiddenstructError(
        f"cannot use trial store {path}: {err}; choose a writable file with --store"
    )


@contextmanager
def _closed_on_error(conn: sqlite3.Connection, path: Path) -> Iterator[None]:
    """Close ``conn`` when opening fails; a SQLite error becomes one message."""
    try:
        yield
    except sqlite3.Error as err:
        conn.close()
        raise open_error(path, err) from None
    except HiddenstructError:
        conn.close()
        raise


def connect_read_only(path: Path, timeout: float) -> sqlite3.Connection:
    """Open without writing anything (see :func:`open_read_only`); the store must already
    have this version's schema (an upgrade writes)."""
    try:
        conn = open_read_only(path, timeout)
    except sqlite3.Error as err:
        raise open_error(path, err) from None
    with _closed_on_error(conn, path):
        conn.row_factory = sqlite3.Row
        check_existing_store(conn, path, SCHEMA_VERSION)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        columns = {row[1] for row in conn.execute("PRAGMA table_info(trials)")}
    if version < SCHEMA_VERSION or "lease_owner" not in columns:
        conn.close()
        raise HiddenstructError(
            f"trial store {path} was written by an older hiddenstruct and needs an "
            f"upgrade, which writes to it; {cannot_write_message(path)}"
        )
    return conn


def connect(path: Path, timeout: float) -> sqlite3.Connection:
    """Open the store at ``path`` to write: created when missing, checked, in WAL mode, an
    older store migrated (backup kept; one transaction), a newer one refused."""
    check_store_path(path)  # before anything is created
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise open_error(path, err) from None
    if not path.exists():
        create_store_file(path, SCHEMA, SCHEMA_VERSION, lambda err: open_error(path, err))
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    except sqlite3.Error as err:
        raise open_error(path, err) from None
    with _closed_on_error(conn, path):
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        check_existing_store(conn, path, SCHEMA_VERSION)  # never touch a foreign file
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version <= SCHEMA_VERSION:
            migrate(conn, path)  # first, so its backup is the old store as it was
        _add_lease_columns(conn)
        if version <= SCHEMA_VERSION:
            record_writer(conn, hiddenstruct.__version__)
    if version > SCHEMA_VERSION:
        conn.close()
        raise HiddenstructError(
            f"trial store {path} has schema version {version}, newer than this "
            f"hiddenstruct understands ({SCHEMA_VERSION}); upgrade hiddenstruct"
        )
    return conn


def _add_lease_columns(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        add_lease_columns(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
