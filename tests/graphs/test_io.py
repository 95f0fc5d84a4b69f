"""Graph files: edge list, GraphML and node-link JSON round trips and error messages."""

from __future__ import annotations

import json
import re

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
    path.write_text("1 2\n3 4 5 6\n", encoding="utf-8")
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


# ---- graph files as networkx writes them (read since 0.2.0) -------------------------------
def _weighted_cycle() -> nx.Graph:
    G = nx.cycle_graph(5)
    for i, (u, v) in enumerate(G.edges):
        G[u][v]["weight"] = 0.25 * (i + 1)
    return G


@pytest.mark.parametrize(
    "write",
    [
        lambda G, p: nx.write_edgelist(G, p, data=False),  # 0 1
        lambda G, p: nx.write_edgelist(G, p, data=True),  # 0 1 {'weight': 0.25}
        lambda G, p: nx.write_edgelist(nx.Graph(G.edges), p),  # 0 1 {}
        nx.write_weighted_edgelist,  # 0 1 0.25
    ],
)
def test_networkx_edge_lists_read_back(tmp_path, write):
    G = _weighted_cycle()
    path = tmp_path / "g.edgelist"
    write(G, path)
    H = read_graph(path)
    assert {frozenset(e) for e in H.edges} == {frozenset(e) for e in G.edges}
    weights = nx.get_edge_attributes(H, "weight")
    if "{}" in path.read_text() or weights == {}:
        assert weights == {}
    else:
        assert {frozenset(e): w for e, w in weights.items()} == {
            frozenset(e): w for e, w in nx.get_edge_attributes(G, "weight").items()
        }


def test_edge_data_is_parsed_as_a_literal_never_evaluated(tmp_path):
    planted = tmp_path / "planted"
    path = tmp_path / "g.edgelist"
    path.write_text(f"0 1 {{'a': __import__('pathlib').Path({str(planted)!r}).touch()}}\n")
    with pytest.raises(GraphError, match=r"g\.edgelist:1: edge data .* not a dict literal"):
        read_graph(path)
    assert not planted.exists()
    path.write_text("0 1 {'label': 'a#b'}  # a comment\n0 1 nan\n")
    with pytest.raises(GraphError, match=r":2: edge weight 'nan' is not a finite number"):
        read_graph(path)


def test_duplicate_edges_are_merged_and_counted(tmp_path):
    path = tmp_path / "g.edgelist"
    path.write_text("0 1\n1 2\n1 0\n0 1 {'weight': 2.0}\n")
    G = read_graph(path)
    assert G.number_of_edges() == 2 and G[0][1] == {"weight": 2.0}
    assert G.graph["merged_duplicate_edges"] == 2
    assert read_graph(path, directed=True).graph["merged_duplicate_edges"] == 1


@pytest.mark.parametrize(
    ("nodes", "match"),
    [
        ([{"id": None}], "node id None is not a vertex label"),
        ([{"id": {"a": 1}}], "node id {'a': 1} is not a vertex label"),
        ([{"id": float("inf")}], "node id inf is not a vertex label"),
        ([{"id": [[[[[[[[[[1]]]]]]]]]]}], "is not a vertex label"),
        ([{"x": 1}], "not a node-link graph"),
    ],
)
def test_node_link_json_ids_are_checked(tmp_path, nodes, match):
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"directed": False, "graph": {}, "nodes": nodes, "edges": []}))
    with pytest.raises(GraphError, match=re.escape(match) if "{" in match else match):
        read_graph(path)


def test_deeply_nested_json_is_one_error(tmp_path):
    path = tmp_path / "g.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(GraphError, match="nested too deeply"):
        read_graph(path)
