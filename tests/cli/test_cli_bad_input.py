"""Bad command lines are one clear message and exit 2 (or 1), checked before any work, with
nothing written (docs/reliability.md)."""

from __future__ import annotations

import argparse
import gzip
import os

import networkx as nx
import pytest

from hiddenstruct.cli import graph_properties
from hiddenstruct.cli.main import main
from hiddenstruct.graphs import write_graph


@pytest.fixture()
def graph_file(tmp_path):
    path = tmp_path / "g.txt"
    write_graph(nx.cycle_graph(5), path)
    return path


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("/proc/x/p.csv", "cannot write /proc/x/p.csv: folder /proc/x is not writable"),
        ("/proc/p.csv", "cannot write /proc/p.csv: folder /proc is not writable"),
        ("{tmp}/x.xlsx", "unsupported file type '.xlsx'; use one of .csv, .parquet"),
        ("{tmp}/afile/p.csv", "afile is a file, not a folder"),
        ("{tmp}", "unsupported file type"),
    ],
)
def test_graph_properties_bad_output(graph_file, tmp_path, capsys, output, message):
    (tmp_path / "afile").write_text("keep")
    before = _listing(tmp_path)
    code = main(["graph-properties", str(graph_file), "-o", output.format(tmp=tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert _listing(tmp_path) == before


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("/proc/x", "folder /proc/x is not writable"),
        ("{tmp}/afile", "is an existing file; choose a folder"),
        ("{tmp}/afile/sub", "afile is a file, not a folder"),
    ],
)
def test_experiment_bad_output_is_refused_before_training(tmp_path, capsys, output, message):
    (tmp_path / "afile").write_text("keep")
    store = tmp_path / "s.sqlite"
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "experiment",
                "prune-ffn",
                "--output",
                output.format(tmp=tmp_path),
                "--store",
                str(store),
            ]
        )
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not store.exists()  # nothing ran


def test_max_edges_refuses_and_a_long_estimate_warns(graph_file, tmp_path, capsys):
    big = tmp_path / "big.txt"
    write_graph(nx.path_graph(3000), big)
    out = tmp_path / "p.csv"
    assert main(["graph-properties", str(big), "-o", str(out), "--max-edges", "2000"]) == 2
    err = capsys.readouterr().err
    assert "2999 edges, more than --max-edges 2000" in err and "roughly" in err
    assert not out.exists()
    args = argparse.Namespace(backend="networkx", max_edges=None)
    graph_properties._guard_size(big, nx.path_graph(3000), args)
    assert "warning: " in capsys.readouterr().err
    graph_properties._guard_size(graph_file, nx.cycle_graph(5), args)
    assert capsys.readouterr().err == ""


def test_edgeless_graph_with_largest_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "dots.txt"
    path.write_text("1\n2\n3\n")
    for backend in ("igraph", "networkx"):
        code = main(
            [
                "graph-properties",
                str(path),
                "-o",
                str(tmp_path / "p.csv"),
                "--disconnected",
                "largest",
                "--backend",
                backend,
            ]
        )
        assert code == 1
        assert "no edges" in capsys.readouterr().err


def test_report_does_not_follow_a_folder_symlink_to_root(tmp_path, capsys):
    root = tmp_path / "out"
    (root / "exp").mkdir(parents=True)
    (root / "exp" / "t.csv").write_text("a,b\n1,2\n")
    os.symlink("/", root / "everything")
    os.symlink("/", root / "exp" / "nested")
    report = tmp_path / "r.html"
    assert main(["report", "--input", str(root), "--output", str(report)]) == 0
    text = report.read_text()
    assert "t.csv" in text and "everything" not in text
    assert main(["report", "--input", str(root), "--output", str(tmp_path / "r.pdf")]) == 2


def test_corrupt_mnist_error_reaches_the_user(tmp_path, capsys):
    data = tmp_path / "mnist"
    data.mkdir()
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (data / f"{name}.gz").write_bytes(gzip.compress(b"\x01\x02\x03\x04" * 100))
    code = main(
        [
            "experiment",
            "prune-ffn",
            "--dataset",
            "mnist",
            "--data-dir",
            str(data),
            "--architectures",
            "5",
            "--epochs",
            "1",
            "--repeats",
            "1",
            "--methods",
            "random",
            "--retrain",
            "no",
            "--store",
            str(tmp_path / "s.sqlite"),
            "--output",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    # caught by the preflight check, before any trial is queued or the store is created
    assert "mnist train split" in err and "is not an IDX file" in err
    assert not (tmp_path / "s.sqlite").exists()


def test_report_reads_no_file_behind_a_symlink_at_any_depth(tmp_path, capsys):
    """Links named like outputs, at the top level and deeper, are never embedded."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET,1\n2,3\n")
    root = tmp_path / "out"
    (root / "exp" / "deep").mkdir(parents=True)
    (root / "exp" / "t.csv").write_text("a,b\n1,2\n")
    os.symlink(secret, root / "secret.csv")
    os.symlink("/etc/passwd", root / "leak.png")
    os.symlink(secret, root / "exp" / "deep" / "inner.csv")
    os.symlink(root / "exp" / "t.csv", root / "exp" / "twin.csv")  # even to a file inside
    os.symlink(tmp_path, root / "exp" / "up")
    report = tmp_path / "r.html"
    assert main(["report", "--input", str(root), "--output", str(report)]) == 0
    text = report.read_text()
    assert "t.csv" in text
    for planted in ("TOPSECRET", "secret.csv", "leak.png", "inner.csv", "twin.csv"):
        assert planted not in text
    err = capsys.readouterr().err
    assert "skipped 5 entries" in err
    for planted in ("secret.csv", "leak.png", "inner.csv", "twin.csv", "up"):
        assert planted in err


def test_report_summaries_read_no_linked_table(tmp_path, capsys):
    """The per-experiment summaries (claims, verdicts) do not read a linked table either."""
    secret = tmp_path / "secret.csv"
    secret.write_text(
        "architecture,schedule,retrain,method,unpruned,acc@60%,acc@90%\n"
        "TOPSECRET,relative,False,obd,0.9,0.8,0.7654321\n"
    )
    root = tmp_path / "out"
    (root / "prune-ffn").mkdir(parents=True)
    os.symlink(secret, root / "prune-ffn" / "table.csv")
    report = tmp_path / "r.html"
    assert main(["report", "--input", str(root), "--output", str(report)]) == 0
    text = report.read_text()
    assert "TOPSECRET" not in text and "76.5" not in text
