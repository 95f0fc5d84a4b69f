"""Seeded random-graph generators and the paper's prior sampling rules."""

from __future__ import annotations

import networkx as nx
import pytest

from hiddenstruct.errors import GraphError
from hiddenstruct.graphs.generators import (
    PRIOR_FAMILIES,
    barabasi_albert,
    erdos_renyi,
    get_family,
    sample_prior_graphs,
    watts_strogatz,
)


def _edges(G: nx.Graph) -> list[tuple[int, int]]:
    return sorted(tuple(sorted(e)) for e in G.edges)


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: watts_strogatz(30, 6, 1.0, seed),
        lambda seed: barabasi_albert(30, 3, seed),
        lambda seed: erdos_renyi(30, 0.3, seed, connected=True),
    ],
)
def test_same_seed_same_graph_different_seed_different_graph(make):
    assert _edges(make(1)) == _edges(make(1))
    assert _edges(make(1)) != _edges(make(2))


def test_watts_strogatz_is_connected_with_ring_edge_count():
    for seed in range(5):
        G = watts_strogatz(25, 4, 1.0, seed)
        assert nx.is_connected(G)
        assert G.number_of_nodes() == 25
        assert G.number_of_edges() == 25 * (4 // 2)  # rewiring keeps the edge count


def test_barabasi_albert_edge_count():
    G = barabasi_albert(40, 4, seed=3)
    assert nx.is_connected(G)
    assert G.number_of_edges() == 4 * (40 - 4)


def test_erdos_renyi_connected_option_and_failure():
    assert nx.is_connected(erdos_renyi(30, 0.3, seed=0, connected=True))
    with pytest.raises(GraphError, match="no connected graph"):
        erdos_renyi(30, 0.0, seed=0, connected=True, tries=3)


@pytest.mark.parametrize(
    "call",
    [
        lambda: watts_strogatz(10, 1, 0.5, 0),
        lambda: watts_strogatz(10, 10, 0.5, 0),
        lambda: watts_strogatz(10, 4, 1.5, 0),
        lambda: barabasi_albert(10, 0, 0),
        lambda: barabasi_albert(10, 10, 0),
        lambda: erdos_renyi(10, -0.1, 0),
    ],
)
def test_invalid_parameters_raise_graph_error(call):
    with pytest.raises(GraphError):
        call()


@pytest.mark.parametrize("family", ["ws", "ba", "watts_strogatz", "barabasi_albert", "er"])
def test_sample_prior_graphs_follow_paper_rules(family):
    graphs = sample_prior_graphs(family, count=30, n_range=(10, 50), seed=11)
    assert len(graphs) == 30
    name = get_family(family).name
    for index, G in enumerate(graphs):
        n = G.number_of_nodes()
        assert 10 <= n <= 50
        assert nx.is_connected(G)
        assert G.graph["family"] == name and G.graph["index"] == index and G.graph["n"] == n
        if name == "barabasi_albert":
            m = n // 10
            assert G.graph["m"] == m and G.number_of_edges() == m * (n - m)
        if name == "watts_strogatz":
            k = n // 5
            assert G.graph["k"] == k and G.graph["p"] == 1.0 and G.number_of_edges() == n * (k // 2)
    assert len({G.number_of_nodes() for G in graphs}) > 5  # n really varies


def test_sample_prior_graphs_seeding():
    first = sample_prior_graphs("ws", count=5, seed=4)
    again = sample_prior_graphs("ws", count=5, seed=4)
    other = sample_prior_graphs("ws", count=5, seed=5)
    assert [_edges(G) for G in first] == [_edges(G) for G in again]
    assert [_edges(G) for G in first] != [_edges(G) for G in other]


def test_sample_prior_graphs_n_range_bounds_are_inclusive():
    graphs = sample_prior_graphs("ba", count=40, n_range=(12, 13), seed=0)
    assert {G.number_of_nodes() for G in graphs} == {12, 13}


def test_custom_family_passes_through():
    def ladder(n: int, seed: int) -> nx.Graph:
        return nx.ladder_graph(n)

    graphs = sample_prior_graphs(ladder, count=3, n_range=(5, 6), seed=1)
    for G in graphs:
        assert G.graph["family"] == "ladder"
        assert nx.is_isomorphic(G, nx.ladder_graph(G.number_of_nodes() // 2))


def test_unknown_family_lists_valid_names():
    with pytest.raises(GraphError) as info:
        sample_prior_graphs("smallworld", count=1, seed=0)
    for name in PRIOR_FAMILIES:
        assert name in str(info.value)


def test_bad_count_and_range():
    with pytest.raises(GraphError):
        sample_prior_graphs("ws", count=-1, seed=0)
    with pytest.raises(GraphError):
        sample_prior_graphs("ws", count=1, n_range=(20, 10), seed=0)
