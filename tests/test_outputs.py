"""Atomic output writes: whole file or none, modes that follow the umask like open()."""

from __future__ import annotations

import os
import stat

import pytest

from hiddenstruct.outputs import csv_text, write_csv, write_json, write_text, write_with


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_modes_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        paths = [
            write_csv(tmp_path / "t.csv", [{"a": 1}]),
            write_json(tmp_path / "s.json", {"a": 1}),
            write_text(tmp_path / "n.txt", "x"),
        ]
        with open(tmp_path / "plain.txt", "w") as handle:
            handle.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode) == mode
    assert {stat.S_IMODE(os.stat(p).st_mode) for p in paths} == {mode}


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_text(tmp_path / "f.txt", "old")

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_with(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_csv_header_is_the_union_of_keys_in_first_seen_order():
    text = csv_text([{"a": 1, "b": 2}, {"c": 3, "a": 4}])
    assert text.splitlines() == ["a,b,c", "1,2,", "4,,3"]
