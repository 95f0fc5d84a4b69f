"""WS-flex graphs, their (C, L) as networkx defines them, and the evenly covering sampler."""

import networkx as nx
import numpy as np
import pytest

from hiddenstruct.errors import GraphError, UsageError
from hiddenstruct.graphs import relational
from hiddenstruct.graphs.relational import (
    bin_index,
    clustering_and_path_length,
    coverage,
    pool_parameters,
    pool_size,
    sample_graph_set,
    subsample,
    ws_flex_graph,
)


@pytest.mark.parametrize(
    "n, k, p", [(16, 2.0, 0.0), (16, 3.3, 0.2), (20, 7.5, 1.0), (64, 8.0, 0.05)]
)
def test_ws_flex_keeps_the_edge_count_is_connected_and_seeded(n, k, p):
    G = ws_flex_graph(n, k, p, seed=3)
    assert G.number_of_nodes() == n
    assert G.number_of_edges() == round(k * n / 2)  # rewiring moves edges, never drops them
    assert nx.is_connected(G) and nx.number_of_selfloops(G) == 0
    assert set(ws_flex_graph(n, k, p, seed=3).edges) == set(G.edges)


def test_ws_flex_without_rewiring_is_the_flexible_ring_lattice():
    G = ws_flex_graph(10, 3.4, 0.0)  # 17 edges: 7 nodes link 2 ahead, 3 nodes link 1 ahead
    degrees = sorted(d for _, d in G.degree)
    assert sum(degrees) == 34 and max(degrees) - min(degrees) <= 2
    assert all(G.has_edge(i, (i + 1) % 10) for i in range(10))
    ring = ws_flex_graph(12, 4.0, 0.0)
    assert nx.utils.graphs_equal(ring, nx.watts_strogatz_graph(12, 4, 0.0))


def test_rewiring_changes_the_graph_and_seeds_differ():
    lattice = set(ws_flex_graph(32, 6.0, 0.0).edges)
    assert set(ws_flex_graph(32, 6.0, 0.5, seed=1).edges) != lattice
    assert set(ws_flex_graph(32, 6.0, 0.5, seed=1).edges) != set(
        ws_flex_graph(32, 6.0, 0.5, seed=2).edges
    )


def test_bad_arguments_are_usage_errors():
    for args in [(2, 2.0, 0.1), (10, 1.5, 0.1), (10, 10.0, 0.1), (10, 4.0, 1.5)]:
        with pytest.raises(UsageError):
            ws_flex_graph(*args)


def test_clustering_and_path_length_equal_networkx():
    graphs = [ws_flex_graph(24, k, p, s) for k, p, s in [(4, 0.1, 0), (5.5, 0.6, 1), (23, 0, 0)]]
    graphs.append(nx.star_graph(6))  # degree-1 nodes count as C = 0
    for G in graphs:
        fast = clustering_and_path_length(G)
        assert fast == pytest.approx(clustering_and_path_length(G, "networkx"), abs=1e-12)
        assert fast[0] == pytest.approx(nx.average_clustering(G), abs=1e-12)
    assert clustering_and_path_length(nx.complete_graph(9)) == (1.0, 1.0)
    with pytest.raises(GraphError):
        clustering_and_path_length(nx.Graph([(0, 1), (2, 3)]))


def test_sampler_keeps_one_graph_per_bin_inside_the_box_and_is_seeded():
    specs = sample_graph_set(16, resolution=6, seed=0)
    keys = [bin_index(g.C, g.L, 6, 2.5) for g in specs]
    assert None not in keys and len(set(keys)) == len(keys) > 10
    assert all(g.k < 15 for g in specs)  # the complete graph is the baseline, not a member
    for g in specs[:5]:
        assert clustering_and_path_length(g.graph()) == pytest.approx((g.C, g.L), abs=1e-12)
    assert sample_graph_set(16, resolution=6, seed=0) == specs
    assert sample_graph_set(16, resolution=6, seed=1) != specs
    finer = sample_graph_set(16, resolution=12)
    assert len(finer) > len(specs)
    box = coverage(specs)
    assert 0 <= box["C_min"] < box["C_max"] <= 1 and 1 <= box["L_min"] < box["L_max"] <= 2.5


def test_bin_index_edges_and_subsample():
    assert bin_index(0.0, 1.0, 15, 4.5) == (0, 0)
    assert bin_index(1.0, 4.5, 15, 4.5) == (14, 14)
    assert bin_index(0.5, 4.6, 15, 4.5) is None
    specs = sample_graph_set(16, resolution=6)
    part = subsample(specs, 5, seed=2)
    assert len(part) == 5 and all(g in specs for g in part)
    assert [specs.index(g) for g in part] == sorted(specs.index(g) for g in part)
    assert subsample(specs, 0) == specs


def test_pool_spans_graph2nns_degrees():
    ks = sorted({k for k, _, _ in pool_parameters(64)})
    assert ks[0] == 8.0 and ks[-1] == 63.0  # graph2nn's smallest sparsity 0.125 · 64
    assert np.any(np.array(ks) % 1 != 0)  # non-integer degrees too


def test_the_default_pool_grows_with_the_grid_and_keeps_the_15_bin_sets():
    assert (
        pool_size(1) == pool_size(15) == (40, 25, 3)
    )  # the pool the stored trials were drawn from
    assert pool_size(16) == pool_size(30) == (80, 50, 3)
    assert pool_size(45) == (120, 75, 3)
    base = dict(degree_steps=40, p_steps=25, pool_seeds=3)
    finer = sample_graph_set(16, 30)
    assert len(finer) > len(sample_graph_set(16, 30, **base))  # more bins filled
    relational._pool.cache_clear()  # generated again, not read from the cache
    assert finer == sample_graph_set(16, 30)  # seeded: the same set again


@pytest.mark.slow
def test_the_45_bin_set_comes_close_to_graph2nns_449():
    specs = sample_graph_set(64, 45)
    assert 430 <= len(specs) <= 460  # graph2nn: 449 (the 15-bin pool of 3 120 graphs filled 299)
