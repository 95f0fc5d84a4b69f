"""`hiddenstruct results` and `report`: in-process behaviour plus subprocess smoke tests."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from hiddenstruct.cli.main import main
from hiddenstruct.trials.store import TrialStore


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "runs" / "store.sqlite"
    store = TrialStore(path)
    for i in range(3):
        h = store.register("alpha", {"i": i, "lr": 0.1 * (i + 1)})
        store.claim(h)
        if i == 2:
            store.fail(h, "Traceback ...\nValueError: planned")
        else:
            store.finish(h, {"accuracy": 0.5 + i / 10, "curve": [1, 2]}, metrics=[(0, "loss", 1.0)])
    store.register("beta", {"j": 1})
    store.close()
    return path


def test_list_filters(store_path, capsys):
    assert main(["results", "list", "--store", str(store_path), "--experiment", "alpha"]) == 0
    out = capsys.readouterr().out
    assert "3 trials" in out and "beta" not in out
    assert main(["results", "list", "--store", str(store_path), "--status", "pending"]) == 0
    out = capsys.readouterr().out
    assert "1 trials" in out and "beta" in out
    assert main(["results", "list", "--store", str(store_path), "--experiment", "gamma"]) == 2
    assert "'alpha', 'beta'" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_export_round_trips(store_path, tmp_path, suffix):
    output = tmp_path / "out" / f"trials.{suffix}"
    code = main(
        [
            "results",
            "export",
            "--store",
            str(store_path),
            "--output",
            str(output),
            "--experiment",
            "alpha",
        ]
    )
    assert code == 0
    frame = pd.read_csv(output) if suffix == "csv" else pd.read_parquet(output)
    assert len(frame) == 3
    assert sorted(frame["config.i"]) == [0, 1, 2]
    assert sorted(frame["status"]) == ["done", "done", "failed"]
    assert frame["result.accuracy"].dropna().tolist() == pytest.approx([0.5, 0.6])
    assert [p.name for p in output.parent.iterdir()] == [output.name]  # no temp files left


def test_export_metrics_table(store_path, tmp_path):
    output = tmp_path / "metrics.csv"
    assert (
        main(
            ["results", "export", "--store", str(store_path), "--output", str(output), "--metrics"]
        )
        == 0
    )
    frame = pd.read_csv(output)
    assert list(frame.columns) == ["experiment", "hash", "step", "name", "value"]
    assert len(frame) == 2


def test_show_by_prefix_and_errors(store_path, capsys):
    store = TrialStore(store_path)
    target = store.trials("alpha")[0]
    assert main(["results", "show", "--store", str(store_path), target.hash[:10]]) == 0
    assert f"trial {target.hash}" in capsys.readouterr().out
    assert main(["results", "show", "--store", str(store_path), target.hash[:10], "--json"]) == 0
    assert f'"hash": "{target.hash}"' in capsys.readouterr().out
    assert main(["results", "show", "--store", str(store_path), "zzzz"]) == 2
    assert "no trial" in capsys.readouterr().err


def test_missing_store_and_unknown_format(tmp_path, store_path, capsys):
    assert main(["results", "list", "--store", str(tmp_path / "nope.sqlite")]) == 1
    assert "no trial store" in capsys.readouterr().err
    assert not (tmp_path / "nope.sqlite").exists()
    bad = tmp_path / "trials.xlsx"
    assert main(["results", "export", "--store", str(store_path), "--output", str(bad)]) == 2
    assert "--format" in capsys.readouterr().err and not bad.exists()


def _run(*args: str):
    return subprocess.run(
        [sys.executable, "-m", "hiddenstruct", *args], capture_output=True, text=True, timeout=300
    )


def test_unwritable_export_is_a_usage_error_without_partial_file(store_path, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(
        ["results", "export", "--store", str(store_path), "--output", str(blocker / "a.csv")]
    )
    assert code == 2  # checked before the export starts
    assert "cannot write" in capsys.readouterr().err


def test_subprocess_smoke_and_error_exits(store_path, tmp_path):
    ok = _run("results", "list", "--store", str(store_path))
    assert ok.returncode == 0 and "alpha" in ok.stdout
    missing = _run("results", "list", "--store", str(tmp_path / "missing.sqlite"))
    assert missing.returncode == 1 and "no trial store" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_bad_option_value_is_a_usage_error(store_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["results", "list", "--store", str(store_path), "--status", "finished"])
    assert exit_info.value.code == 2
    assert "--status finished: must be one of" in capsys.readouterr().err


def test_experiment_group_without_name_shows_help(capsys):
    assert main(["experiment"]) == 2
    assert "NAME" in capsys.readouterr().out


def test_unwritable_or_corrupt_store_exits_1(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(
        [
            "demo",
            "--only",
            "reber-rnn",
            "--output",
            str(tmp_path / "o"),
            "--store",
            str(blocker / "s.sqlite"),
        ]
    )
    assert code == 1
    assert "--store" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"garbage" * 200)
    assert main(["results", "list", "--store", str(corrupt)]) == 1
    assert "corrupt.sqlite" in capsys.readouterr().err
