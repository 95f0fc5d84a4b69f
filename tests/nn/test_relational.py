"""Relational-graph block masks on Linear, MaskedDeepFFN and MaskedRNN; width matching."""

import networkx as nx
import numpy as np
import pytest
import torch

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs.relational import ws_flex_graph
from hiddenstruct.nn import MaskedDeepFFN, MaskedRNN
from hiddenstruct.nn.masking import get_mask
from hiddenstruct.nn.relational import (
    RelationalMLP,
    live_entries,
    mask_ffn,
    mask_linear,
    mask_rnn,
    match_width,
    mlp_macs,
    node_sizes,
    relational_mask,
    rnn_macs,
)


def test_node_sizes_floor_or_ceil_and_seeded():
    sizes = node_sizes(70, 16)
    assert sizes.sum() == 70 and set(sizes) == {4, 5} and (sizes == 5).sum() == 6
    assert np.array_equal(node_sizes(70, 16), sizes)
    assert np.array_equal(node_sizes(64, 16), np.full(16, 4))
    with pytest.raises(UsageError, match="width 7 cannot be split over 8"):
        node_sizes(7, 8)


def test_block_mask_follows_edges_and_self_loops():
    G = nx.path_graph(3)  # edges 0-1, 1-2
    mask = relational_mask(G, 6, 9)  # 2 inputs, 3 outputs per node
    blocks = mask.reshape(3, 3, 3, 2).amax(dim=(1, 3))
    assert torch.equal(blocks, torch.tensor([[1.0, 1, 0], [1, 1, 1], [0, 1, 1]]))
    assert int(mask.sum()) == live_entries(G, 6, 9) == 7 * 6
    assert torch.equal(relational_mask(nx.complete_graph(4), 9, 5), torch.ones(5, 9))
    empty = nx.empty_graph(4)  # self-loops only: block diagonal
    assert int(relational_mask(empty, 8, 8).sum()) == 4 * 2 * 2


def test_uneven_widths_live_entries_match_the_mask():
    G = ws_flex_graph(16, 3.5, 0.3, seed=2)
    for a, b in [(16, 16), (37, 53), (100, 17)]:
        assert int(relational_mask(G, a, b).sum()) == live_entries(G, a, b)


def test_linear_and_ffn_masks():
    G = ws_flex_graph(8, 3.0, 0.2)
    layer = mask_linear(torch.nn.Linear(16, 24), G)
    assert torch.equal(get_mask(layer, "weight"), relational_mask(G, 16, 24))
    assert torch.all(layer.weight[relational_mask(G, 16, 24) == 0] == 0)
    ffn = mask_ffn(MaskedDeepFFN(10, 3, [16, 16, 16]), G)
    assert float(get_mask(ffn.layers[0], "weight").min()) == 1.0  # input layer stays dense
    assert float(get_mask(ffn.layers[-1], "weight").min()) == 1.0  # output layer too
    for i in (1, 2):
        assert torch.equal(get_mask(ffn.layers[i], "weight"), relational_mask(G, 16, 16))
    assert ffn(torch.randn(4, 10)).shape == (4, 3)
    with pytest.raises(UsageError, match="no hidden-to-hidden"):
        mask_ffn(MaskedDeepFFN(10, 3, [16]), G)
    first = mask_ffn(MaskedDeepFFN(16, 3, [16]), G, layers=[0])
    assert torch.equal(get_mask(first.layers[0], "weight"), relational_mask(G, 16, 16))


@pytest.mark.parametrize("mode, gates", [("RNN_TANH", 1), ("RNN_RELU", 1), ("GRU", 3), ("LSTM", 4)])
def test_rnn_masks_every_gate_alike(mode, gates):
    G = ws_flex_graph(8, 2.5, 0.5, seed=1)
    rnn = mask_rnn(MaskedRNN(8, [16, 24], mode), G)
    for layer in rnn.layers:
        for name, cols in (("weight_ih", layer.input_size), ("weight_hh", layer.hidden_size)):
            mask = get_mask(layer, name)
            assert mask.shape == (gates * layer.hidden_size, cols)
            one = relational_mask(G, cols, layer.hidden_size)
            for g in range(gates):
                assert torch.equal(mask[g * layer.hidden_size : (g + 1) * layer.hidden_size], one)
    out, _ = rnn(torch.randn(2, 5, 8))
    assert out.shape == (2, 5, 24)
    only = mask_rnn(MaskedRNN(8, 16, mode), G, scope="h2h")
    assert float(get_mask(only.layers[0], "weight_ih").min()) == 1.0


def test_graph2nn_mlp_baseline_cost_and_matched_width_to_the_unit():
    # graph2nn's train_net.py: stats_baseline 2 364 416 for the 5-layer 512-wide MLP, 985 600 at 256
    assert mlp_macs(None, 3072, 512, 512, 3, 10) == 2_364_416
    assert mlp_macs(None, 3072, 256, 256, 3, 10) == 985_600
    G = ws_flex_graph(64, 8.0, 0.1, seed=0)
    baseline = mlp_macs(None, 3072, 256, 256, 3, 10)
    cost = lambda w: mlp_macs(G, 3072, 256, w, 3, 10)  # noqa: E731
    w = match_width(cost, baseline, 256)
    assert cost(w) >= baseline > cost(w - 1)
    assert w > 256
    assert match_width(lambda w: mlp_macs(None, 3072, 256, w, 3, 10), baseline, 256) == 256
    model = RelationalMLP(3072, 10, G, 256, w)
    assert model.macs() == cost(w)  # counted from the masks actually applied
    assert model(torch.randn(3, 3, 32, 32)).shape == (3, 10)


def test_rnn_matched_width():
    G = ws_flex_graph(8, 2.0, 0.0)
    baseline = rnn_macs(None, 8, 16, 1, 3, 2)
    assert baseline == 3 * (8 * 16 + 16 * 16) + 16 * 2
    w = match_width(lambda h: rnn_macs(G, 8, h, 1, 3, 2), baseline, 16)
    assert rnn_macs(G, 8, w, 1, 3, 2) >= baseline > rnn_macs(G, 8, w - 1, 1, 3, 2)
    rnn = mask_rnn(MaskedRNN(8, [w], "GRU"), G)
    live = sum(int(get_mask(rnn.layers[0], n).sum()) for n in ("weight_ih", "weight_hh"))
    assert live + w * 2 == rnn_macs(G, 8, w, 1, 3, 2)
