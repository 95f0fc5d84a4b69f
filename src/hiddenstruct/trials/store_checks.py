"""Store hygiene: create a store file atomically, refuse damaged or foreign files on open,
and the ``results check`` / ``results recover`` back ends.

An existing file is used only when it is a SQLite database that passes ``PRAGMA quick_check``
and holds a ``trials`` table; anything else (an empty file, another program's database, a
file with damaged pages) is one :class:`HiddenstructError` naming the file and the fix, and
the file is left byte-for-byte as it was.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hiddenstruct.errors import HiddenstructError
from hiddenstruct.outputs import refuse_dangling_link

TABLES = ("trials", "metrics", "artifacts")


#: words in SQLite's messages when the store cannot be written or opened here (not damage)
_ENVIRONMENT_ERRORS = (
    "readonly",
    "read-only",
    "disk i/o error",
    "disk is full",
    "unable to open",
    "locked",
    "permission",
)
_MIN_FREE_BYTES = 1 << 20  # below this the disk counts as full (SQLite needs a few pages)


def write_problem(path: Path) -> str | None:
    """Why a store at ``path`` cannot be written here, with the fix (None when it can).

    SQLite in WAL mode writes the file and keeps ``-wal``/``-shm`` files beside it, so the
    file and its folder must be writable and the disk must have room."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        mounted_read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        mounted_read_only = False
    if mounted_read_only:
        return (
            f"the file system holding {folder} is mounted read-only; copy the store to a "
            "writable folder and pass that with --store"
        )
    if path.exists() and not os.access(path, os.W_OK):
        return (
            f"the file {path} is read-only; make it writable (chmod u+w {path}) or copy the "
            "store to a writable folder and pass that with --store"
        )
    if folder.is_dir() and not os.access(folder, os.W_OK):
        return (
            f"its folder {folder} is not writable (SQLite keeps -wal and -shm files beside the "
            "store); make the folder writable or copy the store to a writable folder and pass "
            "that with --store"
        )
    try:
        free = shutil.disk_usage(folder if folder.is_dir() else Path(".")).free
    except OSError:
        return None
    if free < _MIN_FREE_BYTES:
        return (
            f"the disk holding {folder} is full ({free:,} bytes free); free some space or copy "
            "the store to another disk and pass that with --store"
        )
    return None


def check_store_path(path: str | Path) -> None:
    """Before anything is created: a dangling symbolic link is refused (SQLite would create
    the file it points at) and an existing store must be writable here (cause and fix)."""

    path = Path(path)
    refuse_dangling_link(path, "use the trial store")
    if path.is_file() and path.stat().st_size and write_problem(path) is not None:
        raise HiddenstructError(cannot_write_message(path))


def is_environment_error(err: BaseException) -> bool:
    """True when a SQLite error says the store cannot be opened or written here (permissions,
    read-only file system, full disk, locks), not that it is damaged."""
    text = str(err).lower()
    return any(word in text for word in _ENVIRONMENT_ERRORS)


def cannot_write_message(path: Path, err: BaseException | None = None) -> str:
    """One line naming the cause and the fix; never suggests ``recover`` (nothing is damaged)."""
    cause = write_problem(path)
    if cause is None:
        if isinstance(err, OSError):
            where = f" ({err.filename})" if err.filename else ""
            cause = f"{err.strerror or err}{where}"
        else:
            cause = f"SQLite said: {err}" if err is not None else "it cannot be written"
        cause += "; choose a writable file with --store"
    return f"cannot write to trial store {path}: {cause}"


def _quick_check_ok(path: Path) -> bool:
    """``PRAGMA quick_check`` through a connection that writes nothing (see :func:`open_read_only`)."""
    try:
        conn = open_read_only(path)
    except (sqlite3.Error, HiddenstructError):
        return False
    try:
        return [row[0] for row in conn.execute("PRAGMA quick_check(1)")] == ["ok"]
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()


def _recover_hint(path: Path) -> str:
    return (
        f"run `hiddenstruct results check --store {path}` for details and "
        f"`hiddenstruct results recover --store {path} --output NEW.sqlite` to copy out what is "
        "readable, or choose another file with --store"
    )


def create_store_file(
    path: Path, schema: str, version: int, fail: Callable[[Exception], Exception]
) -> None:
    """Create a new store at ``path`` fully initialised (temp file + link), unless one appeared."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript("BEGIN IMMEDIATE;" + schema + "COMMIT;")
            conn.execute(f"PRAGMA user_version = {version}")
        finally:
            conn.close()
        os.chmod(tmp, 0o666 & ~_umask())
        try:
            os.link(tmp, path)  # atomic; a store another process created first is kept
        except FileExistsError:
            pass
    except (OSError, sqlite3.Error) as err:
        raise fail(err) from None
    finally:
        for leftover in (tmp, tmp + "-wal", tmp + "-shm"):
            Path(leftover).unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_existing_store(conn: sqlite3.Connection, path: Path, supported_version: int) -> None:
    """Raise a clear error unless ``path`` is a healthy hiddenstruct store (reads only)."""
    if path.stat().st_size == 0:
        raise HiddenstructError(
            f"{path} is an empty file, not a hiddenstruct trial store; delete it to start a new "
            "store there, or choose another file with --store"
        )
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as err:
        if "not a database" in str(err):
            raise HiddenstructError(
                f"{path} is not a hiddenstruct trial store (not a SQLite file); "
                "choose another file with --store"
            ) from None
        if is_environment_error(err) and _quick_check_ok(path):  # intact: it is the place
            raise HiddenstructError(cannot_write_message(path, err)) from None
        raise HiddenstructError(
            f"trial store {path} is damaged ({err}); {_recover_hint(path)}"
        ) from None
    if problems != ["ok"]:
        first = next(line for line in "\n".join(problems).splitlines() if "***" not in line)
        raise HiddenstructError(f"trial store {path} is damaged ({first}); {_recover_hint(path)}")
    if "trials" not in tables:
        raise HiddenstructError(
            f"{path} is a SQLite database but not a hiddenstruct trial store (no 'trials' "
            "table); it was left untouched; choose another file with --store"
        )
    if version > supported_version:
        raise HiddenstructError(
            f"trial store {path} has schema version {version}, newer than this hiddenstruct "
            f"understands ({supported_version}); upgrade hiddenstruct"
        )


@dataclass(frozen=True)
class CheckReport:
    """What ``results check`` found."""

    path: Path
    problems: list[str]
    counts: dict[str, int]
    writers: tuple[str, ...] = ()  # hiddenstruct versions that wrote the store (0.2.0 on)

    @property
    def ok(self) -> bool:
        return not self.problems


def open_read_only(path: Path, timeout: float = 5.0) -> sqlite3.Connection:
    """A connection that writes nothing, not even beside the store.

    Without a ``-wal`` file beside it the database file holds every committed row, so it is
    opened ``immutable`` (no ``-wal``/``-shm`` created, works in a read-only folder or on a
    full disk). With one (a sweep is running, or one was killed), ``mode=ro`` reads the WAL
    through the ``-shm`` file the writer keeps.
    """
    path = Path(path)
    if not path.is_file():
        raise HiddenstructError(f"no trial store at {path}; pass an existing file with --store")
    live = Path(f"{path}-wal").exists()
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("" if live else "&immutable=1")
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout)
    conn.execute("PRAGMA query_only = 1")
    return conn


WRITERS_TABLE = """
CREATE TABLE IF NOT EXISTS writers (
    version TEXT PRIMARY KEY,
    first_at REAL NOT NULL,
    last_at REAL NOT NULL
);
"""


def record_writer(conn: sqlite3.Connection, version: str) -> None:
    """Note that hiddenstruct ``version`` opened the store for writing (first and last time).

    The table is made on first use, after any migration, so the ``.v1.bak`` copy of a 0.1.0
    store stays the file as 0.1.0 left it; stores written before 0.2.0 simply have no rows.
    """
    now = time.time()
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(WRITERS_TABLE)
        conn.execute(
            "INSERT INTO writers (version, first_at, last_at) VALUES (?, ?, ?) "
            "ON CONFLICT (version) DO UPDATE SET last_at = excluded.last_at",
            (version, now, now),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def store_writers(conn: sqlite3.Connection) -> tuple[str, ...]:
    """The hiddenstruct versions that wrote the store, oldest first (empty before 0.2.0)."""
    try:
        rows = conn.execute("SELECT version FROM writers ORDER BY first_at").fetchall()
    except sqlite3.DatabaseError:  # no such table: written before 0.2.0, or unreadable
        return ()
    return tuple(row[0] for row in rows)


def check_store(path: Path, limit: int = 20) -> CheckReport:
    """Full ``PRAGMA integrity_check`` plus row counts of the store's tables (never writes)."""
    if path.is_file() and path.stat().st_size == 0:
        return CheckReport(path, ["empty file (not a store)"], {})
    conn = open_read_only(path)
    try:
        try:
            rows = [row[0] for row in conn.execute(f"PRAGMA integrity_check({limit})")]
            problems = [] if rows == ["ok"] else "\n".join(rows).splitlines()
        except sqlite3.DatabaseError as err:
            problems = [str(err)]
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as err:
            return CheckReport(path, [*problems, f"schema unreadable: {err}"], {})
        if "trials" not in tables:
            problems.append("no 'trials' table: not a hiddenstruct trial store")
        counts = {}
        for table in TABLES:
            if table in tables:
                try:
                    counts[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                except sqlite3.DatabaseError as err:
                    problems.append(f"{table}: {err}")
        return CheckReport(path, problems, counts, store_writers(conn))
    finally:
        conn.close()


def _readable_rows(conn: sqlite3.Connection, table: str) -> tuple[list[tuple], int]:
    """Every row of ``table`` that can be read, and how many rowids could not be."""
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall(), 0
    except sqlite3.DatabaseError:
        pass
    try:
        top = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
    except sqlite3.DatabaseError:
        top = conn.execute("PRAGMA page_count").fetchone()[0] * 64  # rows per page, roughly
    rows, lost = [], 0
    for rowid in range(1, top + 1):
        try:
            row = conn.execute(f"SELECT * FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
        except sqlite3.DatabaseError:
            lost += 1
            continue
        if row is not None:
            rows.append(row)
    return rows, lost


def recover_store(source: Path, target: Path, new_store: Callable[[Path], object]) -> dict:
    """Copy every readable row of ``source`` into a new store at ``target``; returns counts.

    ``new_store(path)`` creates the target store (a :class:`TrialStore`) so its schema is
    current. ``source`` is opened read-only and never changed.
    """
    if target.exists():
        raise HiddenstructError(f"{target} exists; give --output a new file name")
    conn = open_read_only(source)
    try:
        try:
            columns = {
                table: [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
                for table in TABLES
            }
        except sqlite3.DatabaseError as err:
            raise HiddenstructError(
                f"{source}: the table definitions cannot be read ({err}); nothing to recover"
            ) from None
        if not columns["trials"]:
            raise HiddenstructError(f"{source} is not a hiddenstruct trial store (no trials)")
        data = {table: _readable_rows(conn, table) for table in TABLES if columns[table]}
    finally:
        conn.close()
    store = new_store(target)
    counts: dict[str, int] = {}
    out = store._conn  # noqa: SLF001 - one bulk copy in one transaction
    out.execute("BEGIN IMMEDIATE")
    try:
        for table, (rows, lost) in data.items():
            names = columns[table]
            marks = ", ".join("?" * len(names))
            verb = "INSERT OR IGNORE" if table != "metrics" else "INSERT"
            out.executemany(
                f"{verb} INTO {table} ({', '.join(names)}) VALUES ({marks})",
                [tuple(row) for row in rows],
            )
            counts[table], counts[f"{table}_unreadable"] = len(rows), lost
        out.execute("UPDATE trials SET status = 'pending' WHERE status = 'running'")
        out.execute("COMMIT")
    except BaseException:
        out.execute("ROLLBACK")
        raise
    finally:
        store.close()
    return counts
