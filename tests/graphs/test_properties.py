"""Graph properties: exact names (the paper's Table 1 and their summaries), networkx parity of the igraph backend, hand values."""

from __future__ import annotations

import math
import statistics

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenstruct.errors import GraphError
from hiddenstruct.graphs import to_dag
from hiddenstruct.graphs.generators import sample_prior_graphs
from hiddenstruct.graphs.properties import BACKENDS, PROPERTY_NAMES, properties

#: The rows of the paper's Table 1 (§4.3), in its order.
PAPER_TABLE1_NAMES = [
    "layers", "nodes", "edges", "source_nodes", "diameter", "density",
    "average_shortest_path_length", "eccentricity_var", "degree_var", "closeness_var",
    "nodes_betweenness_var", "edge_betweenness_var",
]  # fmt: skip

#: Our columns: Table 1's, with ``sink_nodes`` beside ``source_nodes`` and the mean and std
#: beside each variance (docs/priors-and-prediction.md).
TABLE1_AND_SUMMARY_NAMES = [
    "layers", "nodes", "edges", "source_nodes", "sink_nodes", "diameter", "density",
    "average_shortest_path_length",
    "eccentricity_mean", "eccentricity_var", "eccentricity_std",
    "degree_mean", "degree_var", "degree_std",
    "closeness_mean", "closeness_var", "closeness_std",
    "nodes_betweenness_mean", "nodes_betweenness_var", "nodes_betweenness_std",
    "edge_betweenness_mean", "edge_betweenness_var", "edge_betweenness_std",
]  # fmt: skip


def assert_same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for key in a:
        if math.isnan(b[key]):
            assert math.isnan(a[key]), key
        else:
            assert math.isclose(a[key], b[key], rel_tol=1e-9, abs_tol=1e-12), (key, a[key], b[key])


def assert_parity(G: nx.Graph, **kwargs) -> dict:
    fast = properties(G, "igraph", **kwargs)
    assert_same(fast, properties(G, "networkx", **kwargs))
    return fast


@st.composite
def connected_graphs(draw, max_nodes: int = 24) -> nx.Graph:
    """A random spanning tree plus random extra edges, with shuffled insertion order."""
    n = draw(st.integers(2, max_nodes))
    edges = {(draw(st.integers(0, i - 1)), i) for i in range(1, n)}
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    edges |= set(draw(st.lists(pairs, max_size=3 * n)))
    labels = draw(st.permutations(range(n)))
    G = nx.Graph()
    G.add_nodes_from(labels)
    G.add_edges_from((labels[u], labels[v]) for u, v in edges)
    return G


@st.composite
def connected_dags(draw) -> nx.DiGraph:
    """A weakly connected DAG: edges follow a random topological order."""
    U = draw(connected_graphs(max_nodes=20))
    order = draw(st.permutations(list(U.nodes)))
    return to_dag(U, order=order)


def test_names_are_table1_with_summaries():
    assert list(PROPERTY_NAMES) == TABLE1_AND_SUMMARY_NAMES
    in_ours = [name for name in PROPERTY_NAMES if name in PAPER_TABLE1_NAMES]
    assert in_ours == PAPER_TABLE1_NAMES  # every Table 1 row, in the paper's order
    for backend in BACKENDS:
        assert list(properties(nx.path_graph(4), backend)) == TABLE1_AND_SUMMARY_NAMES


@settings(max_examples=80, deadline=None)
@given(connected_graphs())
def test_igraph_equals_networkx_on_random_connected_graphs(G):
    values = assert_parity(G)
    assert values["nodes"] == G.number_of_nodes() and values["edges"] == G.number_of_edges()


@settings(max_examples=40, deadline=None)
@given(connected_dags())
def test_igraph_equals_networkx_on_random_dags(D):
    values = assert_parity(D)
    from hiddenstruct.graphs import layers

    layered = layers(D)
    assert (values["layers"], values["source_nodes"], values["sink_nodes"]) == (
        len(layered),
        len(layered[0]),
        len(layered[-1]),
    )


def test_igraph_equals_networkx_on_prior_samples():
    for family in ("ws", "ba", "er"):
        for G in sample_prior_graphs(family, count=8, n_range=(10, 50), seed=3):
            assert_parity(G)


def test_non_comparable_labels_use_node_order():
    G = nx.Graph()
    G.add_edges_from([("b", 1), (1, "a"), ("a", 2.5)])  # node order: b, 1, a, 2.5 → a path
    values = assert_parity(G)
    assert (values["layers"], values["source_nodes"], values["sink_nodes"]) == (4, 1, 1)


def _expected(n, e, layered, diameter, aspl, ecc, deg, clo, btw, ebt):
    out = {
        "layers": len(layered), "nodes": n, "edges": e, "source_nodes": layered[0],
        "sink_nodes": layered[-1], "diameter": diameter, "density": e / (n * (n - 1)),
        "average_shortest_path_length": aspl,
    }  # fmt: skip
    for name, xs in (("eccentricity", ecc), ("degree", deg), ("closeness", clo),
                     ("nodes_betweenness", btw), ("edge_betweenness", ebt)):  # fmt: skip
        out[f"{name}_mean"] = statistics.mean(xs)
        out[f"{name}_var"] = statistics.variance(xs)
        out[f"{name}_std"] = statistics.stdev(xs)
    return out


# Hand-computed values (unordered pairs; node betweenness normalised by (n-1)(n-2)/2 pairs,
# edge betweenness by n(n-1)/2 pairs; closeness (n-1)/Σd).
HAND = {
    "path5": (
        nx.path_graph(5),
        _expected(5, 4, [1, 1, 1, 1, 1], 4, 20 / 10, [4, 3, 2, 3, 4], [0.25, 0.5, 0.5, 0.5, 0.25],
                  [4 / 10, 4 / 7, 4 / 6, 4 / 7, 4 / 10], [0, 3 / 6, 4 / 6, 3 / 6, 0],
                  [4 / 10, 6 / 10, 6 / 10, 4 / 10]),
    ),
    "star4": (
        nx.star_graph(4),
        _expected(5, 4, [1, 4], 2, 16 / 10, [1, 2, 2, 2, 2], [1, 0.25, 0.25, 0.25, 0.25],
                  [1, 4 / 7, 4 / 7, 4 / 7, 4 / 7], [1, 0, 0, 0, 0], [0.4, 0.4, 0.4, 0.4]),
    ),
    "cycle6": (
        nx.cycle_graph(6),
        _expected(6, 6, [1, 1, 1, 1, 1, 1], 3, 27 / 15, [3] * 6, [0.4] * 6, [5 / 9] * 6,
                  [2 / 10] * 6, [4.5 / 15] * 6),
    ),
}  # fmt: skip


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("name", sorted(HAND))
def test_hand_checked_values(name, backend):
    G, expected = HAND[name]
    expected = {key: float(expected[key]) for key in TABLE1_AND_SUMMARY_NAMES}
    assert_same(properties(G, backend), expected)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_layer_counts_on_hand_made_dags(backend):
    D = nx.DiGraph([("a", "c"), ("b", "c"), ("c", "d"), ("a", "d")])
    values = properties(D, backend)
    assert (values["layers"], values["source_nodes"], values["sink_nodes"]) == (3, 2, 1)
    # 'c2' is a sink in layer 1: sink_nodes counts the last layer only (docs/priors-and-prediction.md)
    D = nx.DiGraph([("a", "b"), ("a", "c2"), ("b", "d")])
    values = properties(D, backend)
    assert (values["layers"], values["source_nodes"], values["sink_nodes"]) == (3, 1, 1)


def test_directed_input_uses_undirected_distances_and_dag_layers():
    G = nx.cycle_graph(7)
    D = to_dag(G, seed=5)
    undirected, directed = properties(G), properties(D)
    assert_parity(D)
    for key in TABLE1_AND_SUMMARY_NAMES[5:]:
        assert math.isclose(undirected[key], directed[key], rel_tol=1e-12, abs_tol=1e-15), key
    reversed_path = nx.DiGraph([(4, 3), (3, 2), (2, 1), (1, 0)])
    assert properties(reversed_path)["layers"] == 5


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_disconnected_raises_unless_largest_component_requested(backend):
    G = nx.disjoint_union(nx.cycle_graph(5), nx.path_graph(3))
    with pytest.raises(GraphError, match="disconnected"):
        properties(G, backend)
    largest = properties(G, backend, disconnected="largest")
    assert_same(largest, properties(nx.cycle_graph(5), backend))


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_invalid_graphs_raise_graph_error(backend):
    with pytest.raises(GraphError, match="cycle"):
        properties(nx.DiGraph([(0, 1), (1, 2), (2, 0)]), backend)
    with pytest.raises(GraphError, match="self-loop"):
        properties(nx.Graph([(0, 1), (1, 1)]), backend)
    with pytest.raises(GraphError, match="multigraph"):
        properties(nx.MultiGraph([(0, 1), (0, 1)]), backend)
    with pytest.raises(GraphError, match="at least 2"):
        properties(nx.empty_graph(1), backend)
    with pytest.raises(GraphError, match="largest"):
        properties(nx.path_graph(3), backend, disconnected="smallest")


def test_unknown_backend_lists_valid_ones():
    with pytest.raises(GraphError) as info:
        properties(nx.path_graph(3), "rustworkx")
    assert all(name in str(info.value) for name in BACKENDS)


def test_single_edge_has_undefined_sample_variance():
    values = assert_parity(nx.path_graph(2))
    assert values["edge_betweenness_mean"] == 1.0
    assert math.isnan(values["edge_betweenness_var"]) and math.isnan(values["edge_betweenness_std"])


@pytest.mark.slow
def test_lenet_sized_graph_parity_and_speed():
    import time

    rng = np.random.default_rng(0)
    sizes, D, offset = (784, 300, 100, 10), nx.DiGraph(), 0
    D.add_nodes_from(range(sum(sizes)))
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        u, v = np.nonzero(rng.random((a, b)) < 0.1)
        D.add_edges_from(zip((u + offset).tolist(), (v + offset + a).tolist(), strict=True))
        offset += a
    start = time.perf_counter()
    fast = properties(D)
    assert time.perf_counter() - start < 10.0
    assert_same(fast, properties(D, "networkx"))


@settings(max_examples=25, deadline=None)
@given(connected_graphs(max_nodes=12), connected_graphs(max_nodes=12))
def test_largest_component_rule_on_random_disconnected_graphs(A, B):
    G = nx.disjoint_union(A, B)  # A's vertices come first in node order, relabelled 0..
    values = assert_parity(G, disconnected="largest")
    bigger = A if A.number_of_nodes() >= B.number_of_nodes() else B  # ties: the first component
    assert (
        values["nodes"] == bigger.number_of_nodes() and values["edges"] == bigger.number_of_edges()
    )
    part = nx.convert_node_labels_to_integers(bigger)
    expected = properties(G.subgraph(range(A.number_of_nodes())) if bigger is A else part)
    for key in TABLE1_AND_SUMMARY_NAMES[5:]:  # distances/centralities do not depend on labels
        assert math.isclose(values[key], expected[key], rel_tol=1e-9, abs_tol=1e-12) or (
            math.isnan(values[key]) and math.isnan(expected[key])
        ), key


def test_properties_table_is_one_row_per_graph():
    from hiddenstruct.graphs.properties import properties_table

    graphs = [nx.path_graph(4), nx.star_graph(3)]
    assert properties_table(graphs) == [properties(G) for G in graphs]
