"""Fuzz the CLI's file inputs (docs/reliability.md): TOML configs, node-link JSON, edge lists, Reber CSVs
and prediction CSVs, with random bytes, deep nesting, huge fields and extreme numbers.

Each input goes through ``main()`` as a user would give it. Allowed outcomes: exit 0 (the
bytes happened to be a valid input), or exit 1/2 with exactly one line on stderr and no new
file — no traceback (an exception escaping ``main`` fails the test), no store, no output.
Hypothesis runs derandomized with a bounded number of examples (reproducible, seconds).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from hiddenstruct.cli.main import main

EXAMPLES = 25
HUGE = "A" * 2_000_000  # above csv's field limit (131 072) and any sane label or string


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _run(folder: Path, argv: list[str]) -> tuple[int, str]:
    """``main(argv)`` with stdout/stderr captured; argparse's SystemExit counts as its code."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as exit_info:
            code = int(exit_info.code or 0)
    return code, err.getvalue()


def _check(folder: Path, input_name: str, payload: bytes, argv: list[str], outputs: list[str]):
    (folder / input_name).write_bytes(payload)
    before = _files(folder)
    code, err = _run(folder, [a.replace("@", str(folder)) for a in argv])
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err
    if code != 0:
        assert err.count("\n") == 1, err
        assert _files(folder) == before, f"new files after a rejected input: {err}"
    else:
        assert set(outputs) >= _files(folder) - before
    return code, err


# (input file name, argv with @ for the folder, files a success may write)
COMMANDS = {
    "toml": ("c.toml", ["experiment", "prune-rnn", "--config", "@/c.toml", "--print-config"], []),
    "json": ("g.json", ["graph-properties", "@/g.json", "-o", "@/p.csv"], ["p.csv"]),
    "edges": ("g.edgelist", ["graph-properties", "@/g.edgelist", "-o", "@/p.csv"], ["p.csv"]),
    "reber": ("r.csv", ["reber", "check", "@/r.csv"], []),
    "predict": (
        "m.csv",
        ["predict", "-i", "@/m.csv", "--target", "acc", "-o", "@/p.csv"],
        ["p.csv"],
    ),
}


@pytest.mark.parametrize("kind", sorted(COMMANDS))
@seed(28)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=st.binary(max_size=300))
def test_random_bytes_never_give_a_traceback_or_a_file(tmp_path, kind, payload):
    name, argv, outputs = COMMANDS[kind]
    for path in tmp_path.iterdir():  # tmp_path is shared by the examples: start empty
        path.unlink()
    _check(tmp_path, name, payload, argv, outputs)


def _node_link(nodes, edges) -> bytes:
    return json.dumps({"directed": False, "graph": {}, "nodes": nodes, "edges": edges}).encode()


PREDICT_HEADER = "nodes,edges,diameter,acc\n"
ADVERSARIAL = {
    "toml": [
        b"\xff\xfe\x00garbage",
        b"x = " + b"[" * 5000,
        b"# " + b"a" * 1_100_000,
        b"seed = 99999999999999999999",
        b"seed = -1",
        b"lr = nan",
        b"lr = inf",
        b"lr = 1e400",
        b"epochs = 9223372036854775807",
        b'modes = ["' + HUGE.encode() + b'"]',
    ],
    "json": [
        b"[" * 200_000 + b"]" * 200_000,
        _node_link([{"id": None}], []),
        _node_link([{"id": {"a": 1}}], []),
        _node_link([{"id": 1e308}, {"id": 2}], [{"source": 1e308, "target": 2}]),
        _node_link([{"id": HUGE}], []),
        b'{"nodes": [{"id": NaN}], "edges": []}',
        b'{"nodes": 5}',
    ],
    "edges": [
        b"0 1 {" + b"[" * 5000 + b"}",
        b"0 1 {'a': __import__('os').system('true')}",
        b"0 1 1e400",
        b"0 1 nan",
        HUGE.encode() + b" 1",
        b"0 1\n" * 50_000,
        b"\x00\x01\x02 \xff",
    ],
    "reber": [
        ("string,valid\n" + HUGE + ",1\n").encode(),
        b"string,valid\nBTXSE,1e308\n",
        b"string,valid\n" + b"\xff" * 10 + b",1\n",
        b'string,valid\n"unterminated,1\n',
        b"split,string,valid\n" + b"train,BTXSE,1\n" * 3,
    ],
    "predict": [
        (PREDICT_HEADER + "".join(f"{i},{i},2,{v}\n" for i, v in enumerate([1e308, -1e308] * 20))).encode(),
        (PREDICT_HEADER + "".join(f"{i},1e308,2,{i}\n" for i in range(40))).encode(),
        (PREDICT_HEADER + "".join(f"{i},nan,2,{i}\n" for i in range(40))).encode(),
        (PREDICT_HEADER + f"1,2,3,{HUGE}\n").encode(),
        (PREDICT_HEADER + "1,2,3,4\n").encode(),
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "index"), [(k, i) for k, payloads in sorted(ADVERSARIAL.items()) for i in range(len(payloads))]
)  # fmt: skip
def test_adversarial_inputs_are_one_line_and_no_file(tmp_path, kind, index):
    name, argv, outputs = COMMANDS[kind]
    code, err = _check(tmp_path, name, ADVERSARIAL[kind][index], argv, outputs)
    valid = {("edges", 4), ("edges", 5)}  # a 2 MB label; 50 000 copies of one edge (merged)
    assert (code == 0) == ((kind, index) in valid), err


@pytest.mark.parametrize(
    ("config", "extra"),
    [
        (b"seed = 99999999999999999999", []),
        (b"lr = nan", []),
        (b"\xff\xfe", []),
        (b"x = " + b"[" * 5000, []),
        (b"", ["--reber-csv", "@/r.csv"]),
    ],
)
def test_a_rejected_run_creates_no_store_and_no_output(tmp_path, config, extra):
    """The inputs of a real run are checked before the store or the output folder exists."""
    (tmp_path / "r.csv").write_text("string,valid\n" + HUGE + ",1\n")
    argv = ["experiment", "prune-rnn", "--modes", "GRU", "--config", "@/c.toml", *extra]
    argv += ["--store", "@/s.sqlite", "--output", "@/out"]
    code, err = _check(tmp_path, "c.toml", config, argv, [])
    assert code != 0 and not (tmp_path / "s.sqlite").exists() and not (tmp_path / "out").exists()
