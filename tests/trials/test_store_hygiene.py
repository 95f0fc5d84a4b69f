"""Damaged, empty or foreign store files: one clear error, the file untouched, and a way out
(`results check` / `results recover`); 0.1.0 stores gain the lease columns (docs/reliability.md)."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import pytest

from hiddenstruct.cli.main import main
from hiddenstruct.errors import HiddenstructError
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.migration import backup_path
from hiddenstruct.trials.store import TrialStore
from hiddenstruct.trials.store_open import SCHEMA


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _filled_store(path: Path, n: int = 300) -> None:
    with TrialStore(path) as store:
        for i in range(n):
            h = store.register("toy", {"i": i, "pad": "x" * 200})
            store.claim(h)
            store.finish(h, {"acc": i / n}, metrics=[(k, "loss", 1.0 / (k + 1)) for k in range(5)])
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _damage(path: Path, page: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(4096 * page)
        handle.write(b"\xde\xad\xbe\xef" * 1024)


def _foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "is an empty file, not a hiddenstruct trial store"),
        (lambda p: p.write_bytes(b"\x00garbage" * 500), "not a SQLite file"),
        (_foreign, "not a hiddenstruct trial store \\(no 'trials' table\\)"),
    ],
    ids=["empty", "not-sqlite", "foreign-sqlite"],
)
def test_a_file_that_is_not_a_store_is_refused_and_left_untouched(tmp_path, make, message):
    path = tmp_path / "s.sqlite"
    make(path)
    before = _digest(path)
    with pytest.raises(HiddenstructError, match=message):
        TrialStore(path)
    for argv in (["results", "list"], ["results", "export", "--output", str(tmp_path / "e.csv")]):
        assert main([*argv, "--store", str(path)]) == 1
    assert _digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite"]


def test_damaged_store_is_one_clear_error_and_recover_copies_what_is_readable(tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    _filled_store(path)
    _damage(path, 12)  # a leaf page of the trials table
    before = _digest(path)
    with pytest.raises(HiddenstructError, match=r"is damaged .*results recover --store"):
        TrialStore(path)
    for argv in (
        ["results", "list"],
        ["results", "show", "abc"],
        ["results", "export", "--metrics", "--output", str(tmp_path / "m.csv")],
        ["experiment", "prune-ffn", "--architectures", "10", "--output", str(tmp_path / "o")],
    ):
        assert main([*argv, "--store", str(path)]) == 1, argv
        assert "Traceback" not in capsys.readouterr().err
    assert main(["results", "check", "--store", str(path)]) == 1
    assert "DAMAGED" in capsys.readouterr().out
    target = tmp_path / "new.sqlite"
    assert main(["results", "recover", "--store", str(path), "--output", str(target)]) == 0
    assert "recovered" in capsys.readouterr().out
    assert _digest(path) == before  # the damaged file is only read
    with TrialStore(target) as store:
        trials = store.trials("toy")
        assert 250 <= len(trials) < 300  # the rows on the damaged page are lost, the rest kept
        assert all(t.status == "done" and t.result["acc"] == t.config["i"] / 300 for t in trials)
    assert main(["results", "check", "--store", str(target)]) == 0
    assert main(["results", "recover", "--store", str(path), "--output", str(target)]) == 1


def test_healthy_store_checks_ok(tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    _filled_store(path, 3)
    assert main(["results", "check", "--store", str(path)]) == 0
    assert "ok (3 trials, 15 metrics, 0 artifacts)" in capsys.readouterr().out


def test_a_0_1_0_store_gains_lease_columns_and_keeps_its_trials(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.execute(
        "INSERT INTO trials (hash, experiment, config, status, attempts) "
        "VALUES ('ab', 'toy', '{}', 'running', 1)"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with TrialStore(path) as store:  # migrated to v2: the row is re-keyed to its identity
        (record,) = store.trials("toy")
        assert record.hash == trial_identity("toy", {}) and record.status == "running"
        assert store.claim(record.hash) == 2  # a 0.1.0 'running' row has no owner: reclaimed
    assert backup_path(path, 1).is_file()  # the migration's copy of the 0.1.0 file
    with TrialStore(path) as store:  # opening again is idempotent
        assert store.get(record.hash).status == "running"
        columns = {row[1] for row in store._conn.execute("PRAGMA table_info(trials)")}
        assert {"lease_owner", "heartbeat_at"} <= columns


def test_stores_created_at_once_by_many_openers_are_one_store(tmp_path):
    path = tmp_path / "new.sqlite"
    errors: list[BaseException] = []

    def open_and_register(i: int) -> None:
        try:
            with TrialStore(path) as store:
                store.register("toy", {"i": i})
        except BaseException as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    threads = [threading.Thread(target=open_and_register, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with TrialStore(path) as store:
        assert len(store.trials("toy")) == 8
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == [
        "new.sqlite"
    ]
