"""Graph files: edge list, GraphML and node-link JSON round trips and error messages."""

from __future__ import annotations

import networkx as nx
import pytest

from hiddenstruct.errors import GraphError
from hiddenstruct.graphs import read_edge_list, read_graph, write_graph


def _same(a: nx.Graph, b: nx.Graph) -> bool:
    return (
        a.is_directed() == b.is_directed()
        and set(a.nodes) == set(b.nodes)
        and {frozenset(e) if not a.is_directed() else e for e in a.edges}
        == {frozenset(e) if not b.is_directed() else e for e in b.edges}
    )


@pytest.mark.parametrize("suffix", [".txt", ".edges", ".edgelist", ".graphml", ".json"])
@pytest.mark.parametrize("directed", [False, True])
def test_round_trip_every_format(tmp_path, suffix, directed):
    G = nx.gnp_random_graph(20, 0.2, seed=1, directed=directed)
    if directed:
        G = nx.DiGraph((u, v) for u, v in G.edges if u < v)
        G.add_nodes_from(range(20))
    G.add_node(100)  # isolated vertex survives
    path = write_graph(G, tmp_path / f"g{suffix}")
    back = read_graph(path)
    assert _same(G, back)
    assert all(isinstance(v, int) for v in back.nodes)


@pytest.mark.parametrize("suffix", [".graphml", ".json"])
def test_attributes_survive_graphml_and_json(tmp_path, suffix):
    G = nx.DiGraph()
    G.add_node(0, layer=0)
    G.add_node(1, layer=1)
    G.add_edge(0, 1, weight=0.5)
    back = read_graph(write_graph(G, tmp_path / f"g{suffix}"))
    assert back.nodes[1]["layer"] == 1 and back.edges[0, 1]["weight"] == 0.5


def test_json_keeps_tuple_and_string_labels(tmp_path):
    G = nx.DiGraph([(("in", 0), "a"), ("a", ("out", 1))])
    back = read_graph(write_graph(G, tmp_path / "g.json"))
    assert set(back.edges) == set(G.edges)


def test_edge_list_parsing_rules(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("# a comment\n1 2  # trailing\n\n2 x\n7\n", encoding="utf-8")
    G = read_graph(path)
    assert not G.is_directed()
    assert set(G.nodes) == {1, 2, "x", 7}
    assert {frozenset(e) for e in G.edges} == {frozenset((1, 2)), frozenset((2, "x"))}
    assert read_edge_list(path, directed=True).is_directed()


def test_bad_edge_list_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.edges"
    path.write_text("1 2\n3 4 5\n", encoding="utf-8")
    with pytest.raises(GraphError, match=r"bad\.edges:2: expected"):
        read_graph(path)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("g.json", "{not json", "not valid JSON"),
        ("g.json", '{"nodes": 3}', "not a node-link graph"),
        ("g.graphml", "<graphml", "GraphML"),
        ("g.csv", "1,2", "unknown graph file type"),
    ],
)
def test_bad_files_raise_graph_error_naming_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(GraphError, match=message) as info:
        read_graph(path)
    assert name in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(GraphError, match="no such graph file"):
        read_graph(tmp_path / "nope.txt")


def test_failed_write_leaves_no_file(tmp_path):
    G = nx.Graph([("has space", 1)])
    with pytest.raises(GraphError, match="whitespace"):
        write_graph(G, tmp_path / "g.txt")
    with pytest.raises(GraphError, match="GraphML"):
        write_graph(nx.Graph([((1, 2), 3)]), tmp_path / "g.graphml")
    assert list(tmp_path.iterdir()) == []
