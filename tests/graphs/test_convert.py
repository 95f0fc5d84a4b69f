"""to_graph: model → graph for the feed-forward and graph-built models."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from hiddenstruct.errors import HiddenstructError
from hiddenstruct.graphs import UnsupportedModelError, to_dag, to_graph
from hiddenstruct.nn import GraphNet, MaskedDeepFFN, apply_mask


def test_ffn_graph_has_one_edge_per_live_weight():
    torch.manual_seed(0)
    model = MaskedDeepFFN(5, 2, [4, 3, 3])
    with torch.no_grad():
        model.layers[1].parametrizations.weight.original[0, 0] = 0.0  # a zero weight is not live
    apply_mask(model.layers[2], "weight", torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 0]]))
    G = to_graph(model)
    assert G.number_of_edges() == (4 * 3 - 1) + 2
    assert [G.nodes[v]["layer"] for v in sorted(G)] == [0] * 4 + [1] * 3 + [2] * 3
    full = to_graph(model, include_io=True)
    assert full.number_of_edges() == 5 * 4 + 11 + 2 + 3 * 2


def test_graphnet_round_trip_reproduces_structure_and_labels():
    G = nx.relabel_nodes(nx.gnp_random_graph(25, 0.2, seed=3), lambda v: f"v{v:02d}")
    net = GraphNet(G, 4, 2)
    H = to_graph(net)
    again = GraphNet(H, 4, 2)
    D = to_dag(G)
    assert nx.is_isomorphic(H, D)
    assert set(to_graph(again).edges) == set(D.edges) and set(to_graph(again)) == set(D)


def test_unsupported_model_is_a_clear_error():
    with pytest.raises(UnsupportedModelError, match="Linear") as info:
        to_graph(torch.nn.Linear(2, 2))
    assert isinstance(info.value, HiddenstructError) and isinstance(info.value, TypeError)
