"""Store hygiene: create a store file atomically, refuse damaged or foreign files on open,
and the ``results check`` / ``results recover`` back ends.

An existing file is used only when it is a SQLite database that passes ``PRAGMA quick_check``
and holds a ``trials`` table; anything else (an empty file, another program's database, a
file with damaged pages) is one :class:`HiddenstructError` naming the file and the fix, and
the file is left byte-for-byte as it was.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hiddenstruct.errors import HiddenstructError

TABLES = ("trials", "metrics", "artifacts")


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

    @property
    def ok(self) -> bool:
        return not self.problems


def _read_only(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise HiddenstructError(f"no trial store at {path}; pass --store FILE")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA query_only = 1")
    return conn


def check_store(path: Path, limit: int = 20) -> CheckReport:
    """Full ``PRAGMA integrity_check`` plus row counts of the store's tables (never writes)."""
    if path.is_file() and path.stat().st_size == 0:
        return CheckReport(path, ["empty file (not a store)"], {})
    conn = _read_only(path)
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
        return CheckReport(path, problems, counts)
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
    conn = _read_only(source)
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
