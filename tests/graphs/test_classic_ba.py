"""Classic Barabási–Albert (m isolated seeds) vs networkx's star-seeded variant."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from hiddenstruct.errors import GraphError
from hiddenstruct.graphs.dag import to_dag
from hiddenstruct.graphs.generators import (
    barabasi_albert,
    classic_barabasi_albert,
    get_family,
    sample_prior_graphs,
)
from hiddenstruct.graphs.properties import properties


def _same(G: nx.Graph, H: nx.Graph) -> bool:
    """Same vertices and edges (graph attributes such as the seed are not compared)."""
    return set(G.nodes) == set(H.nodes) and {frozenset(e) for e in G.edges} == {
        frozenset(e) for e in H.edges
    }


def _sources(G: nx.Graph) -> int:
    D = to_dag(G)  # ascending-label orientation
    return sum(1 for v in D if D.in_degree(v) == 0)


@pytest.mark.parametrize("n", [2, 3, 10, 11, 19, 20, 37, 50, 120])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classic_has_m_sources_and_exact_edges(n: int, seed: int) -> None:
    for m in sorted({1, max(1, n // 10), max(1, n // 3), n - 1}):
        G = classic_barabasi_albert(n, m, seed)
        assert sorted(G.nodes) == list(range(n))
        assert G.number_of_edges() == (n - m) * m
        assert _sources(G) == m
        assert nx.is_connected(G)
        assert all(G.has_edge(m, t) for t in range(m))  # the first new vertex joins every seed
        assert all(G.degree(v) >= m for v in range(m, n))


@pytest.mark.parametrize("n", [10, 25, 50])
def test_star_variant_has_one_source(n: int) -> None:
    m = n // 10
    G = barabasi_albert(n, m, seed=3, seed_graph="star")
    assert _same(G, nx.barabasi_albert_graph(n, m, seed=3))
    assert G.number_of_edges() == (n - m) * m and _sources(G) == 1
    assert properties(to_dag(G))["source_nodes"] == 1


def test_default_stays_star_and_classic_is_seeded() -> None:
    assert _same(barabasi_albert(30, 3, 5), nx.barabasi_albert_graph(30, 3, seed=5))
    a = barabasi_albert(30, 3, 5, seed_graph="classic")
    assert _same(a, barabasi_albert(30, 3, 5, seed_graph="classic"))
    assert not _same(a, barabasi_albert(30, 3, 6, seed_graph="classic"))
    assert a.graph["seed_graph"] == "classic"


def test_classic_is_preferential() -> None:
    # early vertices collect more edges on average than late ones (rich get richer)
    degrees = [0.0] * 200
    for seed in range(30):
        G = classic_barabasi_albert(200, 2, seed)
        for v in G:
            degrees[v] += G.degree(v) / 30
    assert sum(degrees[2:12]) / 10 > 3 * sum(degrees[-10:]) / 10


def test_paper_sampling_with_classic_seed_graph_gives_n_over_10_sources() -> None:
    graphs = sample_prior_graphs("ba", 40, (10, 50), seed=1, options={"seed_graph": "classic"})
    for G in graphs:
        n = G.number_of_nodes()
        assert _sources(G) == n // 10 and G.number_of_edges() == (n - n // 10) * (n // 10)
    star = sample_prior_graphs("ba", 40, (10, 50), seed=1)
    assert [G.number_of_nodes() for G in star] == [G.number_of_nodes() for G in graphs]
    assert {_sources(G) for G in star} == {1}


def test_bad_seed_graph_and_unknown_options() -> None:
    with pytest.raises(GraphError, match="classic, star"):
        barabasi_albert(10, 1, 0, seed_graph="ring")
    with pytest.raises(GraphError, match="no option"):
        get_family("ws").make(10, 0, seed_graph="classic")
    with pytest.raises(GraphError, match="no option"):
        sample_prior_graphs("ws", 2, seed=0, options={"seed_graph": "classic"})
    with pytest.raises(GraphError):
        classic_barabasi_albert(5, 5, 0)


def test_custom_family_receives_options() -> None:
    def family(n: int, seed: int, *, width: int) -> nx.Graph:
        return nx.path_graph(n + width)

    graphs = sample_prior_graphs(
        family, 2, (3, 3), seed=random.Random(0).randrange(9), options={"width": 2}
    )
    assert [G.number_of_nodes() for G in graphs] == [5, 5]
