"""A store that cannot be written *here* is not a damaged store.

A read-only file, folder or mount, a full disk: the message names the cause and the fix and
never suggests ``results recover``; the read-only commands (``results list/show/export``,
``report --store``) still work; ``results check`` writes nothing beside the store; dangling
symbolic links are refused before anything is created; ``results artifacts`` resolves paths
only inside the store's artifacts folder.

As root, permissions do not stop writes, so the read-only cases use a read-only bind mount
there (skipped where mounting is not allowed) and the full disk a tiny tmpfs (root only).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from hiddenstruct.cli.main import guarded, main
from hiddenstruct.trials.store import TrialStore

ROOT = os.geteuid() == 0


def _make_store(path: Path) -> str:
    store = TrialStore(path)
    trial = store.register("alpha", {"i": 1})
    store.claim(trial)
    store.finish(trial, {"accuracy": 0.75}, metrics=[(0, "loss", 1.0)])
    store.close()
    return trial


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def _umount(path: Path) -> bool:
    return subprocess.run(["umount", str(path)], capture_output=True).returncode == 0


@contextlib.contextmanager
def read_only_folder(folder: Path):
    """``folder`` cannot be written while inside (chmod; a read-only bind mount as root)."""
    if not ROOT:
        folder.chmod(0o555)
        try:
            yield "is not writable"
        finally:
            folder.chmod(0o755)
        return
    if not _mount("--bind", str(folder), str(folder)):
        pytest.skip("cannot bind-mount here")
    try:
        if not _mount("-o", "remount,bind,ro", str(folder)):
            pytest.skip("cannot remount read-only here")
        yield "mounted read-only"
    finally:
        gc.collect()  # in-process commands may still hold a connection into the mount
        if not _umount(folder):
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "damaged" not in err and "recover" not in err and "FILE" not in err
    return err


def test_read_only_commands_work_and_writers_name_the_cause(tmp_path, capsys):
    folder = tmp_path / "runs"
    store = folder / "s.sqlite"
    trial = _make_store(store)
    (tmp_path / "in" / "exp").mkdir(parents=True)
    (tmp_path / "in" / "exp" / "t.csv").write_text("a,b\n1,2\n")
    before = sorted(p.name for p in folder.iterdir())
    with read_only_folder(folder) as cause:
        assert main(["results", "list", "--store", str(store)]) == 0
        assert "alpha" in capsys.readouterr().out
        assert main(["results", "show", trial[:10], "--store", str(store)]) == 0
        export = ["results", "export", "--store", str(store), "--output", str(tmp_path / "e.csv")]
        assert main(export) == 0
        assert (tmp_path / "e.csv").read_text().count("\n") == 2
        assert main(["results", "check", "--store", str(store)]) == 0
        report = ["report", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "r.html")]
        assert main([*report, "--store", str(store)]) == 0
        capsys.readouterr()
        out = tmp_path / "out"
        argv = ["experiment", "prune-rnn", "--modes", "GRU", "--store", str(store)]
        assert main([*argv, "--output", str(out)]) == 1
        err = _one_error(capsys)
        assert f"cannot write to trial store {store}" in err and cause in err
        assert not out.exists()
        assert sorted(p.name for p in folder.iterdir()) == before  # nothing beside it


@pytest.mark.skipif(ROOT, reason="root writes read-only files; the mount case covers root")
def test_a_read_only_store_file_is_named_with_the_chmod_fix(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    _make_store(store)
    store.chmod(0o444)
    assert main(["results", "list", "--store", str(store)]) == 0
    capsys.readouterr()
    assert main(["experiment", "prune-rnn", "--store", str(store), "--output", "o"]) == 1
    assert f"the file {store} is read-only; make it writable" in _one_error(capsys)


def test_a_full_disk_is_not_damage(tmp_path, capsys):
    if not ROOT:
        pytest.skip("needs root to mount a tiny tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=300k", "tmpfs", str(disk)):
        pytest.skip("cannot mount tmpfs here")
    try:
        store = disk / "s.sqlite"
        _make_store(tmp_path / "made.sqlite")
        store.write_bytes((tmp_path / "made.sqlite").read_bytes())
        with contextlib.suppress(OSError), open(disk / "fill", "wb", buffering=0) as handle:
            while True:
                handle.write(b"\0" * 4096)
        assert main(["results", "list", "--store", str(store)]) == 0
        assert main(["results", "check", "--store", str(store)]) == 0
        capsys.readouterr()
        assert main(["experiment", "prune-rnn", "--store", str(store), "--output", "o"]) == 1
        assert "is full (" in _one_error(capsys)
        assert sorted(p.name for p in disk.iterdir()) == ["fill", "s.sqlite"]
    finally:
        gc.collect()
        if not _umount(disk):
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_results_check_writes_nothing_beside_the_store(tmp_path):
    store = tmp_path / "s.sqlite"
    _make_store(store)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["results", "check", "--store", str(store)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == before == ["s.sqlite"]


@pytest.mark.parametrize(
    "argv",
    [
        ["experiment", "prune-rnn", "--modes", "GRU", "--store", "LINK", "--output", "OUT"],
        ["results", "recover", "--store", "STORE", "--output", "LINK"],
        ["report", "--input", "IN", "--output", "LINK"],
        ["results", "list", "--store", "LINK"],
    ],
)
def test_a_dangling_symlink_is_refused_before_anything_is_created(tmp_path, capsys, argv):
    target = tmp_path / "elsewhere" / "target.sqlite"
    target.parent.mkdir()
    link = tmp_path / "link.sqlite"
    link.symlink_to(target)
    if "report" in argv:
        link = tmp_path / "link.html"
        link.symlink_to(target.with_suffix(".html"))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "t.csv").write_text("a\n1\n")
    _make_store(tmp_path / "store.sqlite")
    names = {"LINK": link, "OUT": tmp_path / "out", "STORE": tmp_path / "store.sqlite"}
    names["IN"] = tmp_path / "in"
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main([str(names.get(a, a)) for a in argv])
    assert code == 2
    err = capsys.readouterr().err
    assert "is a symbolic link to" in err and "which does not exist" in err
    assert list(target.parent.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_results_artifacts_resolves_only_inside_the_artifacts_folder(tmp_path, capsys):
    store = tmp_path / "runs" / "s.sqlite"
    trial = _make_store(store)
    secret = tmp_path / "secret.txt"
    secret.write_text("x" * 1234)
    inside = store.parent / "artifacts" / trial / "model.pt"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"y" * 10)
    conn = sqlite3.connect(store)
    conn.executemany(
        "INSERT INTO artifacts (hash, name, path) VALUES (?, ?, ?)",
        [(trial, "model", f"artifacts/{trial}/model.pt"), (trial, "planted", "../secret.txt"),
         (trial, "absolute", str(secret))],
    )  # fmt: skip
    conn.commit()
    conn.close()
    assert main(["results", "artifacts", trial[:10], "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "model: " in out and "(10 bytes)" in out
    assert "1,234 bytes" not in out and out.count("REFUSED") == 2


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            "database disk image is malformed",
            "could not be read (database disk image is malformed)",
        ),
        ("attempt to write a readonly database", "cannot write to trial store"),
        ("database or disk is full", "cannot write to trial store"),
    ],
)
def test_a_store_failing_mid_command_is_named_never_file(tmp_path, capsys, error, expected):
    store = tmp_path / "s.sqlite"

    def command():
        raise sqlite3.OperationalError(error)

    assert guarded(command, store) == 1
    err = capsys.readouterr().err
    assert expected in err and str(store) in err and "FILE" not in err
    if "malformed" in error:
        assert f"results check --store {store}" in err
    else:
        assert "recover" not in err and "check" not in err
