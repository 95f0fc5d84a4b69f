"""CLI of the data area: `reber generate|check`, `data check|download`, in-process and as subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from hiddenstruct.cli.main import main
from hiddenstruct.data.idx import write_idx
from hiddenstruct.data.reber import is_reber, read_reber_csv


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hiddenstruct", *args], capture_output=True, text=True, timeout=120
    )


def test_reber_generate_subprocess_is_deterministic(tmp_path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    first = _cli("reber", "generate", "--n", "400", "--seed", "7", "--output", str(a))
    assert first.returncode == 0, first.stderr
    # the same seed in another process (in-process here) gives the same bytes
    assert (
        main(
            [
                "reber",
                "generate",
                "--n",
                "400",
                "--seed",
                "7",
                "--output",
                str(b),
                "--hard-fraction",
                "0.5",
            ]
        )
        == 0
    )
    assert a.read_bytes() == b.read_bytes()
    ds = read_reber_csv(a)
    assert ds.count("train") == 300 and ds.count("test") == 100 and ds.count(label=1) == 200
    assert all(is_reber(s) == bool(y) for s, y in zip(ds.strings, ds.labels, strict=True))


@pytest.mark.parametrize(
    "args",
    [
        ["--n", "0"],
        ["--n", "-4"],
        ["--n", "many"],
        ["--hard-fraction", "1.5"],
        ["--test-fraction", "-0.1"],
        ["--grammar", "klingon"],
        ["--bogus-option"],
    ],
)
def test_reber_generate_usage_errors_exit_2(tmp_path, args) -> None:
    out = tmp_path / "r.csv"
    with pytest.raises(SystemExit) as exc:  # argparse errors
        code = main(["reber", "generate", "--output", str(out), *args])
        raise SystemExit(code)
    assert exc.value.code == 2
    assert not out.exists()


def test_reber_generate_unwritable_output(tmp_path, capsys) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    for target in (tmp_path / "missing" / "r.csv", blocker / "r.csv"):
        assert main(["reber", "generate", "--n", "10", "--output", str(target)]) == 1
        assert "cannot write" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_reber_generate_overwrite_is_atomic(tmp_path) -> None:
    out = tmp_path / "r.csv"
    assert main(["reber", "generate", "--n", "20", "--seed", "1", "--output", str(out)]) == 0
    assert (
        main(["reber", "generate", "--n", "30", "--seed", "1", "--output", str(out), "--unique"])
        == 0
    )
    assert len(read_reber_csv(out)) == 30
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_reber_check_exit_codes() -> None:
    assert main(["reber", "check", "BPTVPXTTVVE", "BTXSE"]) == 0
    assert main(["reber", "check", "BPTVPXTTVVE", "BTTVPXTVPSE"]) == 1
    assert main(["reber", "check", "--grammar", "embedded_reber", "BTBTXSETE"]) == 0


def _fake_mnist(folder) -> None:
    folder.mkdir(parents=True)
    for prefix, n in (("train", 20), ("t10k", 5)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", np.zeros((n, 28, 28), np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8) % 10)


def test_data_check_json_on_generated_files(tmp_path, capsys) -> None:
    _fake_mnist(tmp_path / "mnist")
    assert (
        main(["data", "check", "--data-dir", str(tmp_path), "--json", "--val-fraction", "0.2"]) == 0
    )
    report = {(r["dataset"], r["split"]): r for r in json.loads(capsys.readouterr().out)}
    assert report[("mnist", "train")]["count"] == 16 and report[("mnist", "val")]["count"] == 4
    assert report[("mnist", "test")]["count"] == 5 and report[("mnist", "test")]["shape"] == [
        1,
        28,
        28,
    ]
    assert (
        not report[("cifar10", "train")]["ok"]
        and "CIFAR-10" in report[("cifar10", "train")]["message"]
    )


def test_data_check_errors(tmp_path, capsys) -> None:
    assert main(["data", "check", "--data-dir", str(tmp_path / "nowhere")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["data", "check", "--data-dir", str(tmp_path)]) == 1
    assert "no usable dataset" in capsys.readouterr().err
    # a truncated file makes its split unusable with a message naming the file
    _fake_mnist(tmp_path / "mnist")
    path = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:10])
    assert main(["data", "check", "--data-dir", str(tmp_path), "--dataset", "mnist", "--json"]) == 0
    report = {r["split"]: r for r in json.loads(capsys.readouterr().out)}
    assert report["train"]["ok"] and not report["test"]["ok"]
    assert "t10k-labels-idx1-ubyte.gz" in report["test"]["message"]


def test_data_check_real_and_subprocess_error(tmp_path, shared_data, capsys) -> None:
    assert (
        main(["data", "check", "--data-dir", str(shared_data), "--dataset", "mnist", "--json"]) == 0
    )
    counts = {r["split"]: r["count"] for r in json.loads(capsys.readouterr().out)}
    assert counts == {"train": 54_000, "val": 6_000, "test": 10_000}
    missing = _cli("data", "check", "--data-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr and missing.stderr.strip()
    mirror = (tmp_path / "no-mirror").as_uri()
    offline = [
        "data",
        "download",
        "--dataset",
        "mnist",
        "--data-dir",
        str(tmp_path / "d"),
        "--mirror",
        mirror,
    ]
    assert main(offline) == 1
    assert list((tmp_path / "d" / "mnist").iterdir()) == []


def test_help_of_every_subcommand() -> None:
    for args in (
        ["reber"],
        ["reber", "generate"],
        ["reber", "check"],
        ["data"],
        ["data", "check"],
        ["data", "download"],
    ):
        with pytest.raises(SystemExit) as exc:
            main([*args, "--help"])
        assert exc.value.code == 0


def test_reber_generate_has_no_leak_by_default(tmp_path, capsys) -> None:
    default, iid = tmp_path / "default.csv", tmp_path / "iid.csv"
    assert main(["reber", "generate", "--n", "400", "--seed", "2", "--output", str(default)]) == 0
    assert "0.0% of test strings also occur in train" in capsys.readouterr().out
    assert read_reber_csv(default).leakage() == 0.0
    args = ["reber", "generate", "--n", "400", "--seed", "2", "--no-unique", "--output", str(iid)]
    assert main(args) == 0
    assert read_reber_csv(iid).leakage() > 0.3  # i.i.d. draws repeat short strings
