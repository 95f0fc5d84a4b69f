"""``hiddenstruct graph-properties``: round trip on the three file formats, errors, atomic output."""

from __future__ import annotations

import json
import math

import networkx as nx
import pandas as pd
import pytest

from hiddenstruct.cli.main import main
from hiddenstruct.graphs import to_dag
from hiddenstruct.graphs.generators import barabasi_albert, watts_strogatz
from hiddenstruct.graphs.properties import PROPERTY_NAMES, properties


def _write_edge_list(G: nx.Graph, path, directed_mark: bool = False) -> None:
    lines = ["# directed"] if directed_mark else ["# an edge list"]
    lines += [f"{u} {v}" for u, v in G.edges]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_round_trip_on_edge_list_graphml_and_json(tmp_path, capsys):
    graphs = {
        "ws": watts_strogatz(20, 4, 1.0, seed=1),
        "ba": barabasi_albert(25, 2, seed=2),
        "dag": to_dag(watts_strogatz(15, 4, 0.5, seed=3), seed=4),
    }
    _write_edge_list(graphs["ws"], tmp_path / "ws.txt")
    nx.write_graphml(graphs["ba"], tmp_path / "ba.graphml")
    (tmp_path / "dag.json").write_text(
        json.dumps(nx.node_link_data(graphs["dag"], edges="edges")), encoding="utf-8"
    )
    out = tmp_path / "results" / "props.csv"
    files = [str(tmp_path / name) for name in ("ws.txt", "ba.graphml", "dag.json")]
    assert main(["graph-properties", *files, "--output", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["graph", *PROPERTY_NAMES]
    assert list(table["graph"]) == ["ws", "ba", "dag"]
    for _, row in table.iterrows():
        expected = properties(graphs[row["graph"]], "networkx")
        for name in PROPERTY_NAMES:
            assert math.isclose(row[name], expected[name], rel_tol=1e-9, abs_tol=1e-12), (
                row["graph"],
                name,
            )
    assert "3 graph(s)" in capsys.readouterr().out


def test_networkx_backend_gives_the_same_table(tmp_path):
    _write_edge_list(nx.les_miserables_graph(), tmp_path / "les.txt")
    fast, slow = tmp_path / "fast.csv", tmp_path / "slow.csv"
    assert main(["graph-properties", str(tmp_path / "les.txt"), "-o", str(fast)]) == 0
    assert (
        main(
            [
                "graph-properties",
                str(tmp_path / "les.txt"),
                "-o",
                str(slow),
                "--backend",
                "networkx",
            ]
        )
        == 0
    )
    pd.testing.assert_frame_equal(pd.read_csv(fast), pd.read_csv(slow), rtol=1e-9, atol=1e-12)


def test_bad_file_is_named_and_nothing_is_written(tmp_path, capsys):
    good, bad = tmp_path / "good.txt", tmp_path / "bad.graphml"
    _write_edge_list(nx.path_graph(4), good)
    bad.write_text("<graphml><not closed", encoding="utf-8")
    out = tmp_path / "props.csv"
    assert main(["graph-properties", str(good), str(bad), "--output", str(out)]) == 1
    assert "bad.graphml" in capsys.readouterr().err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.graphml", "good.txt"]


def test_missing_file_exits_1(tmp_path, capsys):
    out = tmp_path / "props.csv"
    assert main(["graph-properties", str(tmp_path / "nope.txt"), "-o", str(out)]) == 1
    assert "nope.txt" in capsys.readouterr().err and not out.exists()


def test_disconnected_graph_errors_or_uses_largest_component(tmp_path, capsys):
    path = tmp_path / "two.txt"
    path.write_text("0 1\n1 2\n2 0\n2 3\n7 8\n9\n", encoding="utf-8")  # 9 is an isolated vertex
    out = tmp_path / "props.csv"
    assert main(["graph-properties", str(path), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "two.txt" in err and "disconnected" in err and not out.exists()
    assert main(["graph-properties", str(path), "-o", str(out), "--disconnected", "largest"]) == 0
    assert "largest component (4 of 7 vertices)" in capsys.readouterr().err
    row = pd.read_csv(out).iloc[0]
    expected = properties(nx.Graph([(0, 1), (1, 2), (2, 0), (2, 3)]))
    assert row["nodes"] == 4 and row["edges"] == 4
    assert math.isclose(row["closeness_mean"], expected["closeness_mean"], rel_tol=1e-12)


def test_cyclic_directed_file_is_reported(tmp_path, capsys):
    path = tmp_path / "loop.txt"
    path.write_text("# directed\n0 1\n1 2\n2 0\n", encoding="utf-8")
    assert main(["graph-properties", str(path), "-o", str(tmp_path / "p.csv")]) == 1
    err = capsys.readouterr().err
    assert "loop.txt" in err and "cycle" in err


@pytest.mark.parametrize("argv", [["graph-properties"], ["graph-properties", "x.txt"]])
def test_missing_arguments_are_usage_errors(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


def test_networkx_edge_lists_directed_option_cycles_and_unique_names(tmp_path, capsys):
    """Since 0.2.0: a directed 3-cycle written by networkx is a DAG only when read as
    undirected; --directed reads it as written and names the cycle; colliding stems keep
    their extension; merged duplicate edges are said."""
    cycle = tmp_path / "c.edgelist"
    nx.write_edgelist(nx.DiGraph([(0, 1), (1, 2), (2, 0)]), cycle)
    out = tmp_path / "p.csv"
    assert main(["graph-properties", str(cycle), "--directed", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "has a cycle: 0 -> 1 -> 2 -> 0" in err and err.count("\n") == 1
    assert not out.exists()
    nx.write_edgelist(nx.path_graph(4, create_using=nx.DiGraph), tmp_path / "ws.edgelist")
    nx.write_graphml(nx.path_graph(5), tmp_path / "ws.graphml")
    (tmp_path / "d.txt").write_text("0 1\n1 2\n0 1\n")
    files = [str(tmp_path / n) for n in ("ws.edgelist", "ws.graphml", "d.txt")]
    assert main(["graph-properties", *files, "--directed", "-o", str(out)]) == 0
    assert "d.txt: 1 duplicate edge line(s) merged" in capsys.readouterr().err
    frame = pd.read_csv(out)
    assert list(frame["graph"]) == ["ws.edgelist", "ws.graphml", "d"]
    assert list(frame["nodes"]) == [4, 5, 3]
