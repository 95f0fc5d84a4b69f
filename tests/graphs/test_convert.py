"""to_graph: every neuron a vertex, every live weight an edge, on every model type."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from hiddenstruct.errors import HiddenstructError, UsageError
from hiddenstruct.graphs import UnsupportedModelError, to_dag, to_graph
from hiddenstruct.nn import (
    GraphNet,
    GraphRNN,
    MaskedDeepFFN,
    MaskedRNN,
    SequenceClassifier,
    apply_mask,
    compact,
)
from hiddenstruct.pruning import prune


def live(weight: torch.Tensor, gates: int = 1) -> int:
    """Live connections of a (stacked-gate) weight: an entry non-zero in any gate."""
    rows, cols = weight.shape
    return int((weight.detach() != 0).reshape(gates, rows // gates, cols).any(0).sum())


def test_ffn_graph_has_one_edge_per_live_weight():
    torch.manual_seed(0)
    model = MaskedDeepFFN(5, 2, [4, 3, 3])
    with torch.no_grad():
        model.layers[1].parametrizations.weight.original[0, 0] = 0.0  # a zero weight is not live
    apply_mask(model.layers[2], "weight", torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 0]]))
    full = to_graph(model)
    assert full.number_of_edges() == 5 * 4 + 11 + 2 + 3 * 2
    assert full.number_of_nodes() == 5 + 4 + 3 + 3 + 2
    hidden = to_graph(model, hidden_only=True)
    assert hidden.number_of_edges() == (4 * 3 - 1) + 2
    assert [hidden.nodes[v]["layer"] for v in sorted(hidden)] == [0] * 4 + [1] * 3 + [2] * 3


def test_paper_mlp_784_100_10_keeps_every_weight():
    G = to_graph(MaskedDeepFFN(784, 10, [100]))
    assert G.number_of_nodes() == 784 + 100 + 10
    assert G.number_of_edges() == 784 * 100 + 100 * 10
    roles = [d["role"] for _, d in G.nodes(data=True)]
    assert roles.count("input") == 784 and roles.count("output") == 10


def test_pruned_300_100_edges_equal_live_weights():
    torch.manual_seed(1)
    model = MaskedDeepFFN(784, 10, [300, 100])
    prune(model, "magnitude", "class_blinded", 0.8)
    expected = sum(int((w != 0).sum()) for w in model.effective_weights())
    assert 0.19 * 266_200 < expected < 0.21 * 266_200
    assert to_graph(model).number_of_edges() == expected
    # the compacted net keeps exactly the live weights that reach an output
    assert to_graph(compact(model)).number_of_edges() <= expected


def test_graphnet_edges_are_input_hidden_and_readout_weights():
    G = nx.gnp_random_graph(20, 0.25, seed=4)
    net = GraphNet(G, 6, 3)
    prune(net, "magnitude", "class_blinded", 0.3)
    expected = sum(
        int((w.detach() != 0).sum())
        for w in (net.input_layer.weight, net.edges.weight, net.readout.weight)
    )
    assert to_graph(net).number_of_edges() == expected


def test_graphnet_round_trip_reproduces_structure_and_labels():
    G = nx.relabel_nodes(nx.gnp_random_graph(25, 0.2, seed=3), lambda v: f"v{v:02d}")
    net = GraphNet(G, 4, 2)
    H = to_graph(net, hidden_only=True)
    again = GraphNet(H, 4, 2)
    D = to_dag(G)
    assert nx.is_isomorphic(H, D)
    assert set(to_graph(again, hidden_only=True).edges) == set(D.edges)
    assert set(to_graph(again, hidden_only=True)) == set(D)


@pytest.mark.parametrize("mode,gates", [("RNN_TANH", 1), ("RNN_RELU", 1), ("LSTM", 4), ("GRU", 3)])
def test_recurrent_classifier_edges_are_live_i2h_and_readout_weights(mode, gates):
    torch.manual_seed(2)
    clf = SequenceClassifier(MaskedRNN(4, [5, 3], mode), num_classes=2)
    prune(clf, "magnitude", "class_blinded", 0.5, scope="i2h")
    expected = sum(live(layer.weight_ih, gates) for layer in clf.rnn.layers)
    expected += int((clf.readout.weight != 0).sum())
    G = to_graph(clf)
    assert G.number_of_edges() == expected
    assert G.number_of_nodes() == 4 + 5 + 3 + 2
    inner = to_graph(clf, hidden_only=True)
    assert inner.number_of_edges() == live(clf.rnn.layers[1].weight_ih, gates)


def test_graph_rnn_edges_are_live_i2h_and_readout_weights():
    G = nx.barabasi_albert_graph(12, 2, seed=2)
    net = GraphRNN(G, 3, "GRU", output_size=2)
    expected = sum(live(layer.weight_ih, 3) for layer in net.layers)
    expected += int((net.readout.weight != 0).sum())
    assert to_graph(net).number_of_edges() == expected
    assert set(to_graph(net, hidden_only=True).edges) == set(to_dag(G).edges)


def test_old_include_io_spelling_still_works_and_conflicts_are_errors():
    model = MaskedDeepFFN(3, 2, [4])
    assert nx.utils.graphs_equal(to_graph(model, include_io=True), to_graph(model))
    assert to_graph(model, include_io=False).number_of_edges() == 0  # one hidden layer
    with pytest.raises(UsageError, match="contradict"):
        to_graph(model, include_io=True, hidden_only=True)
    with pytest.raises(TypeError):
        to_graph(model, True)  # positional flags would read inverted; keyword-only


def test_unsupported_model_is_a_clear_error():
    with pytest.raises(UnsupportedModelError, match="Linear") as info:
        to_graph(torch.nn.Linear(2, 2))
    assert isinstance(info.value, HiddenstructError) and isinstance(info.value, TypeError)
