"""Layered DAGs: orientation, validation and the layer index ind(v)."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from hiddenstruct.errors import GraphError
from hiddenstruct.graphs import default_order, layer_index, layers, to_dag, validate_graph


def _ind_recursive(D: nx.DiGraph, v, memo: dict) -> int:
    """ind(v) = max({ind(s) | (s, v) ∈ E} ∪ {−1}) + 1, straight from the definition."""
    if v not in memo:
        memo[v] = max([_ind_recursive(D, s, memo) for s in D.predecessors(v)] + [-1]) + 1
    return memo[v]


@pytest.mark.parametrize(
    "edges, expected",
    [
        ([(0, 1), (1, 2), (2, 3)], {0: 0, 1: 1, 2: 2, 3: 3}),  # chain
        (
            [("s", "a"), ("s", "b"), ("a", "t"), ("b", "t")],
            {"s": 0, "a": 1, "b": 1, "t": 2},
        ),  # diamond
        ([(0, 1), (1, 2), (0, 2)], {0: 0, 1: 1, 2: 2}),  # skip edge
        ([(0, 2), (1, 2), (2, 3), (1, 3)], {0: 0, 1: 0, 2: 1, 3: 2}),  # two sources
    ],
)
def test_layer_index_on_hand_made_dags(edges, expected):
    D = nx.DiGraph(edges)
    assert layer_index(D) == expected


@pytest.mark.parametrize("seed", range(10))
def test_layer_index_matches_recursive_definition_on_random_graphs(seed):
    G = nx.gnp_random_graph(40, 0.1, seed=seed)
    D = to_dag(G)
    memo: dict = {}
    expected = {v: _ind_recursive(D, v, memo) for v in D}
    assert layer_index(D) == expected
    assert layer_index(G) == expected  # undirected graphs are oriented first
    grouped = layers(G)
    assert grouped[0] == sorted(v for v in D if D.in_degree(v) == 0)
    assert all(expected[v] == i for i, vs in enumerate(grouped) for v in vs)
    assert sum(len(vs) for vs in grouped) == G.number_of_nodes()


def test_orientation_follows_ascending_integer_labels():
    G = nx.Graph([(5, 1), (3, 2), (9, 3)])
    D = to_dag(G)
    assert set(D.edges) == {(1, 5), (2, 3), (3, 9)}
    assert nx.is_directed_acyclic_graph(D)


def test_orientation_is_deterministic_and_seeded():
    G = nx.gnp_random_graph(30, 0.2, seed=1)
    assert list(to_dag(G).edges) == list(to_dag(G.copy()).edges)
    a, b = to_dag(G, seed=7), to_dag(G, seed=7)
    assert list(a.edges) == list(b.edges)
    assert set(to_dag(G, seed=7).edges) != set(to_dag(G, seed=8).edges)
    order = list(G.nodes)
    random.Random(3).shuffle(order)
    pos = {v: i for i, v in enumerate(order)}
    assert all(pos[u] < pos[v] for u, v in to_dag(G, order=order).edges)


def test_incomparable_labels_use_graph_node_order():
    G = nx.Graph()
    G.add_nodes_from(["b", 1, ("t",)])
    G.add_edges_from([(1, "b"), (("t",), 1)])
    assert default_order(G) == ["b", 1, ("t",)]
    assert set(to_dag(G).edges) == {("b", 1), (1, ("t",))}


def test_directed_graph_is_kept_and_attributes_survive():
    D = nx.DiGraph()
    D.add_edge(3, 1, weight=2.0)
    D.nodes[3]["kind"] = "x"
    out = to_dag(D)
    assert list(out.edges(data=True)) == [(3, 1, {"weight": 2.0})]
    assert out.nodes[3]["kind"] == "x"
    with pytest.raises(GraphError, match="already directed"):
        to_dag(D, seed=1)


@pytest.mark.parametrize(
    "graph, message",
    [
        (nx.Graph(), "empty"),
        (nx.Graph([(1, 1)]), "self-loop"),
        (nx.DiGraph([(1, 2), (2, 1)]), "cycle"),
        (nx.MultiDiGraph([(1, 2)]), "multigraph"),
        ("not a graph", "networkx graph"),
    ],
)
def test_validation_errors(graph, message):
    with pytest.raises(GraphError, match=message):
        validate_graph(graph)


def test_connectivity_required_on_request():
    G = nx.Graph([(0, 1), (2, 3)])
    validate_graph(G)
    with pytest.raises(GraphError, match="2 components"):
        validate_graph(G, require_connected=True)


def test_bad_order_is_rejected():
    G = nx.path_graph(3)
    with pytest.raises(GraphError, match="every vertex"):
        to_dag(G, order=[0, 1])
    with pytest.raises(GraphError):
        to_dag(G, order=[0, 1, 2, 2])
