"""Schema and identity migrations of the trial store, keyed by ``PRAGMA user_version``.

Version 1 (hiddenstruct 0.1.0) keyed trials by the hash of the bare config. Version 2 keys
them by :func:`~hiddenstruct.trials.identity.trial_identity` (experiment + config without
paths) and renames the settings that got one name across experiments. :func:`migrate` runs on
open: it copies the old file to ``<store>.v<N>.bak`` first, then re-keys trials, metrics,
artifacts and pack results in one transaction, so a crash leaves the old store intact.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from hiddenstruct.trials.identity import trial_identity

SCHEMA_VERSION = 2

# settings renamed when one concept got one name (experiment -> old key -> new key)
RENAMED_KEYS: dict[str, dict[str, str]] = {"prune-rnn": {"n": "reber_n"}}
# experiments whose results list rows keyed by the hash of another trial
_ROW_HASH_EXPERIMENTS = ("priors-rnn-pack",)
_STATUS_RANK = {"done": 3, "running": 2, "failed": 1, "pending": 0}


def _renamed(experiment: str, config: dict) -> dict:
    names = RENAMED_KEYS.get(experiment, {})
    return {names.get(k, k): v for k, v in config.items()}


def _rekey_v1(conn: sqlite3.Connection) -> None:
    """Version 1 → 2: new identities; of two old rows that now coincide the most finished stays."""
    rows = conn.execute("SELECT hash, experiment, config, status FROM trials").fetchall()
    mapping: dict[str, str] = {}
    keep: dict[str, tuple[int, str]] = {}
    for old, experiment, text, status in rows:
        config = _renamed(experiment, json.loads(text))
        new = trial_identity(experiment, config)
        mapping[old] = new
        rank = _STATUS_RANK.get(status, 0)
        if new not in keep or rank > keep[new][0]:
            keep[new] = (rank, old)
    for old, experiment, text, _ in rows:
        new = mapping[old]
        if keep[new][1] != old:  # a duplicate under the new identity
            for table in ("metrics", "artifacts", "trials"):
                conn.execute(f"DELETE FROM {table} WHERE hash = ?", (old,))
            continue
        config = json.dumps(_renamed(experiment, json.loads(text)), sort_keys=True)
        conn.execute("UPDATE trials SET hash = ?, config = ? WHERE hash = ?", (new, config, old))
        for table in ("metrics", "artifacts"):
            conn.execute(f"UPDATE {table} SET hash = ? WHERE hash = ?", (new, old))
    marks = ",".join("?" * len(_ROW_HASH_EXPERIMENTS))
    query = f"SELECT hash, result FROM trials WHERE experiment IN ({marks}) AND result IS NOT NULL"
    for trial_hash, text in conn.execute(query, _ROW_HASH_EXPERIMENTS).fetchall():
        result = json.loads(text)
        for row in result.get("rows", []):
            row["hash"] = mapping.get(row.get("hash"), row.get("hash"))
        conn.execute(
            "UPDATE trials SET result = ? WHERE hash = ?", (json.dumps(result), trial_hash)
        )


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _rekey_v1}


def backup_path(path: Path, version: int) -> Path:
    """Where the copy of a version-``version`` store is kept before migrating it."""
    return path.with_name(f"{path.name}.v{version}.bak")


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring an opened store to :data:`SCHEMA_VERSION`; returns the version it had."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= SCHEMA_VERSION:
        return version
    has_rows = conn.execute("SELECT 1 FROM trials LIMIT 1").fetchone() is not None
    if version > 0 and has_rows:
        backup = backup_path(path, version)
        if not backup.exists():
            with sqlite3.connect(backup) as target:
                conn.backup(target)
            target.close()
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
        if current < SCHEMA_VERSION:
            for step in range(max(current, 1), SCHEMA_VERSION):
                if current > 0 or has_rows:
                    MIGRATIONS[step](conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return version
