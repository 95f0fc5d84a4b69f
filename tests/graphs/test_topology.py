"""Topology distance (NNSTD, Liu et al. 2020): invariances, symmetry, bounds, growth."""

from __future__ import annotations

import copy
import random

import networkx as nx
import numpy as np
import pytest
import torch

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs import to_graph
from hiddenstruct.graphs.topology import (
    pairwise_topology_distances,
    topology_alignment,
    topology_distance,
)
from hiddenstruct.nn import GraphNet, MaskedDeepFFN, apply_mask, get_mask, original

SIZES = (12, [16, 16, 16], 3)


def random_net(seed: int, density: float, sizes=SIZES) -> MaskedDeepFFN:
    gen = torch.Generator().manual_seed(seed)
    net = MaskedDeepFFN(sizes[0], sizes[2], sizes[1])
    for layer in net.layers:
        apply_mask(layer, "weight", (torch.rand(layer.weight.shape, generator=gen) < density))
    return net


def permuted_copy(net: MaskedDeepFFN, seed: int) -> MaskedDeepFFN:
    """The same network with the hidden units of every layer permuted (outputs unchanged)."""
    gen = torch.Generator().manual_seed(seed)
    new = copy.deepcopy(net)
    for k in range(len(net.layers) - 1):
        perm = torch.randperm(net.layers[k].weight.shape[0], generator=gen)
        for layer, dim in ((new.layers[k], 0), (new.layers[k + 1], 1)):
            mask = get_mask(layer, "weight").index_select(dim, perm)
            with torch.no_grad():
                weight = original(layer, "weight")
                weight.copy_(weight.index_select(dim, perm))
                if dim == 0:
                    layer.bias.copy_(layer.bias[perm])
            apply_mask(layer, "weight", mask)
    return new


def shuffled_graph(G: nx.DiGraph, seed: int) -> nx.DiGraph:
    """G with its hidden vertices relabelled at random within layers and its node order shuffled."""
    rng = random.Random(seed)
    mapping = {}
    for layer in {d["layer"] for _, d in G.nodes(data=True)}:
        hidden = [v for v, d in G.nodes(data=True) if d["layer"] == layer and d["role"] == "hidden"]
        mixed = hidden[:]
        rng.shuffle(mixed)
        mapping.update(zip(hidden, mixed, strict=True))
    nodes = [(mapping.get(v, v), d) for v, d in G.nodes(data=True)]
    rng.shuffle(nodes)
    edges = [(mapping.get(u, u), mapping.get(v, v)) for u, v in G.edges]
    rng.shuffle(edges)
    H = nx.DiGraph()
    H.add_nodes_from(nodes)
    H.add_edges_from(edges)
    return H


@pytest.mark.parametrize("density", [0.6, 0.15, 0.05])
def test_permuted_copy_is_exactly_zero(density):
    net = random_net(1, density)
    copy_ = permuted_copy(net, 2)
    x = torch.randn(5, SIZES[0])
    torch.testing.assert_close(net(x), copy_(x))  # the copy computes the same function
    assert topology_distance(net, copy_) == 0.0
    assert topology_distance(net, net) == 0.0


def test_permuted_copy_with_many_twins_is_zero():
    """Sparse enough that many neurons have identical (often empty) input sets: the matching
    among them must follow the permutation for the next layers to come out at 0 too."""
    for seed in range(12):
        G = to_graph(random_net(seed, 0.15))
        H = shuffled_graph(G, seed + 100)
        assert topology_distance(G, H) == 0.0


def test_matching_maps_hidden_units_to_their_permuted_copies():
    G = to_graph(random_net(3, 0.5))
    H = shuffled_graph(G, 7)
    result = topology_alignment(G, H)
    assert result.distance == 0.0
    assert len(result.matching) == sum(SIZES[1])
    # the matching is an isomorphism between the two networks (edges map to edges)
    full = {**result.matching, **{v: v for v in G if G.nodes[v]["role"] != "hidden"}}
    assert {(full[u], full[v]) for u, v in G.edges} == set(H.edges)


def test_symmetric_and_bounded():
    nets = [random_net(s, d) for s, d in [(1, 0.3), (2, 0.3), (3, 0.1), (4, 0.7)]]
    for a in nets:
        for b in nets:
            d_ab, d_ba = topology_distance(a, b), topology_distance(b, a)
            assert d_ab == d_ba
            assert 0.0 <= d_ab <= 1.0
    matrix = pairwise_topology_distances(nets)
    assert np.array_equal(matrix, matrix.T)
    assert np.all(np.diag(matrix) == 0)
    assert np.all(matrix[~np.eye(len(nets), dtype=bool)] > 0)


def _rewired(net: MaskedDeepFFN, changes: int, seed: int) -> MaskedDeepFFN:
    """``changes`` live weights moved to dead positions (same count per layer as before)."""
    rng = np.random.default_rng(seed)
    new = copy.deepcopy(net)
    layers = list(new.layers)
    for _ in range(changes):
        layer = layers[rng.integers(len(layers))]
        mask = get_mask(layer, "weight").clone().flatten()
        on, off = torch.nonzero(mask).flatten(), torch.nonzero(mask == 0).flatten()
        mask[on[rng.integers(len(on))]] = 0
        mask[off[rng.integers(len(off))]] = 1
        apply_mask(layer, "weight", mask.view_as(get_mask(layer, "weight")))
    return new


def test_grows_with_the_number_of_changed_mask_entries():
    net = random_net(5, 0.3)
    steps = [0, 5, 20, 80, 320]
    means = [
        np.mean([topology_distance(net, _rewired(net, k, seed)) for seed in range(4)])
        for k in steps
    ]
    assert means[0] == 0.0
    assert all(x < y for x, y in zip(means, means[1:], strict=False)), means


def test_disjoint_structures_are_at_distance_one():
    """Single layer (outputs keep their identity): complementary masks share no input."""
    a, b = MaskedDeepFFN(6, 4), MaskedDeepFFN(6, 4)
    mask = torch.zeros(4, 6)
    mask[:, :3] = 1
    apply_mask(a.layers[0], "weight", mask)
    apply_mask(b.layers[0], "weight", 1 - mask)
    assert topology_distance(a, b) == 1.0
    # with a hidden layer: a's hidden units read inputs 0-2 only, b's 3-5 only, and b's
    # outputs read nothing, a's read everything
    a, b = MaskedDeepFFN(6, 2, [4]), MaskedDeepFFN(6, 2, [4])
    apply_mask(a.layers[0], "weight", mask)
    apply_mask(b.layers[0], "weight", 1 - mask)
    apply_mask(b.layers[1], "weight", torch.zeros(2, 4))
    result = topology_alignment(a, b)
    assert result.layers == (1.0, 1.0) and result.distance == 1.0


def test_outputs_keep_identity_unless_matched():
    """Swapping two output rows changes the function: a distance unless outputs are matched."""
    a = random_net(8, 0.5)
    b = copy.deepcopy(a)
    last = b.layers[-1]
    apply_mask(last, "weight", get_mask(last, "weight")[[1, 0, 2]])
    assert topology_distance(a, b) > 0
    assert topology_distance(a, b, match_outputs=True) == 0.0


def test_skip_layer_networks():
    """GraphNet (edges across several layers): a shuffled, relabelled copy of its graph is at
    0; another DAG with the same layer sizes is not."""
    G = nx.gnp_random_graph(14, 0.3, seed=3, directed=False)
    a = to_graph(GraphNet(G, 5, 2))
    assert any(
        a.nodes[v]["layer"] - a.nodes[u]["layer"] > 1
        for u, v in a.edges
        if a.nodes[u]["role"] == "hidden" and a.nodes[v]["role"] == "hidden"
    )
    for seed in range(3):
        assert topology_distance(a, shuffled_graph(a, seed)) == 0.0
    pruned = GraphNet(G, 5, 2)
    keep = torch.rand(pruned.edges.weight.shape, generator=torch.Generator().manual_seed(0)) < 0.7
    apply_mask(pruned.edges, "weight", keep)  # some skip and layer edges gone, layers kept
    assert topology_distance(a, to_graph(pruned)) > 0


def _layers(G):
    out = {}
    for v, d in G.nodes(data=True):
        out.setdefault(d["layer"], []).append(v)
    return [out[k] for k in sorted(out)]


def test_different_architectures_are_refused():
    with pytest.raises(UsageError, match="layer 1 has 16 vs 15 neurons"):
        topology_distance(random_net(1, 0.5), random_net(1, 0.5, (12, [16, 15, 16], 3)))
    with pytest.raises(UsageError, match="3 vs 4 layers|layers"):
        topology_distance(MaskedDeepFFN(4, 2, [3]), MaskedDeepFFN(4, 2, [3, 3]))
    with pytest.raises(UsageError, match="undirected"):
        topology_distance(nx.path_graph(3), nx.path_graph(3))
