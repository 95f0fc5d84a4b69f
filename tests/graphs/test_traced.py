"""to_graph of any nn.Module through torch.fx: op, neuron and channel granularity."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs import (
    GraphTooLargeError,
    TracingError,
    properties,
    to_graph,
    traced_graph,
)
from hiddenstruct.nn import MaskedDeepFFN, apply_mask
from hiddenstruct.zoo import BasicBlock, LeNet5, reference_models


def kinds(G, attr="kind"):
    out: dict[str, int] = {}
    for _, data in G.nodes(data=True):
        out[data[attr]] = out.get(data[attr], 0) + 1
    return out


def edge_kinds(G):
    out: dict[str, int] = {}
    for _, _, data in G.edges(data=True):
        out[data["kind"]] = out.get(data["kind"], 0) + 1
    return out


def valid_positions(size_in, size_out, offset, stride, dilation, pad) -> int:
    """How many output positions read a real (not padded) input at kernel ``offset``."""
    return sum(0 <= i * stride + offset * dilation - pad < size_in for i in range(size_out))


def conv_edges(conv: nn.Conv2d, height: int, width: int) -> int:
    """Edges of an unrolled Conv2d, counted from shapes, padding and the live kernel entries."""
    out_h = height + 2 * conv.padding[0] - conv.dilation[0] * (conv.kernel_size[0] - 1) - 1
    out_h = out_h // conv.stride[0] + 1
    out_w = width + 2 * conv.padding[1] - conv.dilation[1] * (conv.kernel_size[1] - 1) - 1
    out_w = out_w // conv.stride[1] + 1
    total = 0
    live = conv.weight.detach() != 0
    for kh in range(conv.kernel_size[0]):
        rows = valid_positions(height, out_h, kh, conv.stride[0], conv.dilation[0], conv.padding[0])
        for kw in range(conv.kernel_size[1]):
            cols = valid_positions(
                width, out_w, kw, conv.stride[1], conv.dilation[1], conv.padding[1]
            )
            total += int(live[:, :, kh, kw].sum()) * rows * cols
    return total


def random_mask(module, fraction, seed):
    gen = torch.Generator().manual_seed(seed)
    apply_mask(module, "weight", (torch.rand(module.weight.shape, generator=gen) < fraction))


def test_conv_edges_are_exactly_the_brute_force_ones_with_stride_groups_and_masks():
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2)
    random_mask(conv, 0.5, seed=3)
    x = torch.randn(1, 4, 7, 6)
    G = traced_graph(conv, x, granularity="neuron")
    out_h, out_w = conv(x).shape[2:]
    weight = conv.weight.detach()
    expected = set()
    for o in range(6):
        g = o // 3
        for c in range(2):
            for kh in range(3):
                for kw in range(3):
                    if weight[o, c, kh, kw] == 0:
                        continue
                    for oh in range(out_h):
                        for ow in range(out_w):
                            ih, iw = oh * 2 + kh * 2 - 1, ow * 2 + kw * 2 - 1
                            if 0 <= ih < 7 and 0 <= iw < 6:
                                source = ("in", ((g * 2 + c) * 7 + ih) * 6 + iw)
                                expected.add((source, ("out", (o * out_h + oh) * out_w + ow)))
    assert set(G.edges()) == expected
    assert 0 < len(expected) < 6 * 2 * 9 * out_h * out_w  # the mask and the borders removed some


@pytest.mark.parametrize(
    "conv, shape",
    [
        (nn.Conv1d(3, 4, 3, stride=2, padding=2, dilation=2), (3, 11)),
        (nn.Conv1d(2, 4, 4, padding="same", groups=2), (2, 9)),
        (nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"), (2, 5, 4)),
        (nn.Conv2d(2, 2, (3, 2), padding=(1, 1), padding_mode="reflect", stride=(1, 2)), (2, 5, 6)),
    ],
)
@pytest.mark.filterwarnings("ignore:Using padding='same'")  # even kernel: asymmetric padding
def test_conv_edges_are_where_the_jacobian_is_nonzero(conv, shape):
    """An output depends on an input exactly where an unrolled live weight joins them."""
    random_mask(conv, 0.6, seed=7)
    x = torch.randn(1, *shape)
    G = traced_graph(conv, x, granularity="neuron", weights=True)
    jac = torch.autograd.functional.jacobian(lambda t: conv(t).reshape(-1), x).reshape(
        -1, x.numel()
    )
    expected = {(("in", i), ("out", o)) for o, i in jac.nonzero().tolist()}
    assert set(G.edges()) == expected
    if conv.padding_mode == "zeros":  # each pair is joined by one kernel entry: its value
        for (u, v), w in nx.get_edge_attributes(G, "weight").items():
            assert w == pytest.approx(float(jac[v[1], u[1]]))


def test_lenet5_neuron_graph_counts_match_shapes_padding_and_masks():
    model = LeNet5()
    random_mask(model.conv1, 0.7, seed=1)
    random_mask(model.conv2, 0.3, seed=2)
    random_mask(model.fc1, 0.1, seed=4)
    G = to_graph(model, torch.zeros(1, 1, 28, 28), granularity="neuron")
    linear = sum(int((m.weight != 0).sum()) for m in (model.fc1, model.fc2, model.fc3))
    convs = conv_edges(model.conv1, 28, 28) + conv_edges(model.conv2, 14, 14)
    # pooling 2×2 windows: one structural edge per pooled input (28×28×6 and 10×10×16)
    assert edge_kinds(G) == {"weight": convs + linear, "structural": 6 * 28 * 28 + 16 * 10 * 10}
    inputs, outputs = 28 * 28, 10
    hidden = 6 * 28 * 28 + 6 * 14 * 14 + 16 * 10 * 10 + 16 * 5 * 5 + 120 + 84
    assert G.number_of_nodes() == inputs + hidden + outputs
    assert nx.is_directed_acyclic_graph(G)
    assert G.nodes[("conv1", 0)] == {"module": "conv1", "kind": "Conv2d", "layer": 1}


def test_mlp_neuron_graph_has_one_edge_per_live_weight_and_the_weights_when_asked():
    model, x = reference_models()["mlp"]
    random_mask(model[1], 0.2, seed=0)
    G = to_graph(model, x, granularity="neuron", weights=True)
    live = sum(int((m.weight != 0).sum()) for m in model if isinstance(m, nn.Linear))
    assert G.number_of_edges() == live
    o, i = (model[5].weight != 0).nonzero()[0].tolist()
    assert G.edges[("3", i), ("out", o)]["weight"] == pytest.approx(
        float(model[5].weight[o, i].detach())
    )


def test_resnet18_op_level_has_20_convolutions_and_8_residual_additions():
    model, x = reference_models()["resnet18"]
    G = to_graph(model, x, granularity="op")
    counts = kinds(G)
    assert counts["Conv2d"] == 20 and counts["add"] == 8
    for v, data in G.nodes(data=True):
        if data["kind"] == "add":
            assert G.in_degree(v) == 2  # the block's branch and its shortcut
    assert nx.is_directed_acyclic_graph(G)
    assert to_graph(model, granularity="op").number_of_nodes() == G.number_of_nodes()
    blocks = to_graph(model, x, granularity="op", fold=[BasicBlock])
    assert kinds(blocks)["BasicBlock"] == 8 and "add" not in kinds(blocks)


def test_tracing_leaves_batchnorm_statistics_and_train_mode_alone():
    model, x = reference_models()["resnet18"]
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for granularity in ("op", "channel"):
        to_graph(model, x, granularity=granularity)
    assert model.training and all(m.training for m in model.modules())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_resnet18_channel_level_counts_live_kernel_channel_pairs():
    model, x = reference_models()["resnet18"]
    random_mask(model.layer2[0].conv1, 0.05, seed=0)  # leaves some channel pairs without weight
    G = to_graph(model, x, granularity="channel")
    pairs = sum(
        int((m.weight != 0).flatten(2).any(2).sum())
        for m in model.modules()
        if isinstance(m, nn.Conv2d)
    )
    pairs += int((model.fc.weight != 0).sum())
    edges = edge_kinds(G)
    assert edges["weight"] == pairs
    blocks = [
        b for stage in (model.layer1, model.layer2, model.layer3, model.layer4) for b in stage
    ]
    # each residual addition: a vertex per channel with an edge from each of its two operands
    assert edges["structural"] == 2 * sum(b.conv2.out_channels for b in blocks)
    assert kinds(G)["add"] == 2 * (8 + 16 + 32 + 64)


def test_lstm_classifier_is_like_the_structure_graphs_i2h_merged_over_gates():
    model, x = reference_models()["lstm"]
    with torch.no_grad():
        model.rnn.weight_ih_l0[:, :4] = 0  # features 0..3 feed no unit in any gate
    G = to_graph(model, x, granularity="neuron")
    i2h = int((model.rnn.weight_ih_l0 != 0).reshape(4, 32, 16).any(0).sum())
    assert G.number_of_edges() == i2h + int((model.fc.weight != 0).sum())
    assert all(G.out_degree(("embedding", f)) == 0 for f in range(4))
    assert kinds(G) == {"Embedding": 16, "LSTM": 32, "Linear": 2}
    assert nx.is_directed_acyclic_graph(G)  # h2h weights are not part of this view


def test_transformer_block_op_level_and_a_clear_error_at_neuron_level():
    model, x = reference_models()["transformer"]
    counts = kinds(to_graph(model, x, granularity="op"))
    assert counts["scaled_dot_product_attention"] == 1 and counts["add"] == 2
    assert counts["Linear"] == 8 and counts["LayerNorm"] == 2
    with pytest.raises(UsageError, match="scaled_dot_product_attention"):
        to_graph(model, x, granularity="neuron")


class DataDependent(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x


class WithBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.gate = DataDependent()
        self.out = nn.Linear(3, 2)

    def forward(self, x):
        return self.out(self.gate(self.fc(x)))


def test_untraceable_module_is_named_and_folding_it_is_the_way_out():
    model = WithBranch()
    with pytest.raises(TracingError, match=r"module 'gate' \(DataDependent\).*fold=\['gate'\]"):
        to_graph(model, granularity="op")
    G = to_graph(model, granularity="op", fold=["gate"])
    assert kinds(G)["DataDependent"] == 1
    N = to_graph(model, torch.zeros(1, 4), granularity="neuron", fold=[DataDependent])
    assert N.in_degree(("gate", 0)) == 3 and N.out_degree(("gate", 0)) == 2


def test_our_models_keep_their_structure_graph_and_untraceable_forward_is_named():
    model = MaskedDeepFFN(6, 3, [5, 4])
    random_mask(model.layers[1], 0.5, seed=0)
    reference = model.structure_graph(include_io=True)
    for G in (to_graph(model), to_graph(model, torch.zeros(1, 6), granularity="neuron")):
        assert nx.utils.graphs_equal(G, reference)
    with pytest.raises(TracingError, match="MaskedDeepFFN"):
        to_graph(model, granularity="op")


def test_include_exclude_and_hidden_only():
    model, x = reference_models()["lenet5"]
    G = to_graph(model, x, granularity="op", exclude=[nn.ReLU, "Flatten"])
    assert "ReLU" not in kinds(G) and G.has_edge("conv1", "pool1")
    assert nx.is_weakly_connected(G)
    H = to_graph(model, x, granularity="op", include=[nn.Conv2d, nn.Linear])
    assert kinds(H) == {"input": 1, "Conv2d": 2, "Linear": 3, "output": 1}
    assert nx.is_directed_acyclic_graph(H) and H.number_of_edges() == 6
    N = to_graph(model, x, granularity="neuron", hidden_only=True)
    assert not any(v[0] in ("in", "out") for v in N)


def test_size_limit_is_a_clear_error_and_properties_work_on_traced_graphs():
    model, x = reference_models()["lenet5"]
    with pytest.raises(GraphTooLargeError, match="max_edges=1,000.*'channel' or 'op'"):
        to_graph(model, x, granularity="neuron", max_edges=1000)
    G = to_graph(model, x, granularity="channel")
    values = properties(G)
    assert values["nodes"] == G.number_of_nodes() == 1 + 6 + 16 + 120 + 84 + 10
    assert values["edges"] == G.number_of_edges()
    assert values["layers"] == 6 and values["source_nodes"] == 1


def test_channel_level_lenet_edges_are_channel_pairs():
    model, x = reference_models()["lenet5"]
    G = to_graph(model, x, granularity="channel")
    # conv1: 1→6, conv2: 6·16 pairs, fc1 reads channel c's 25 features: 16·120, fc2, fc3
    assert G.number_of_edges() == 6 + 96 + 16 * 120 + 120 * 84 + 84 * 10


def test_bad_arguments_are_clear_errors():
    model, x = reference_models()["mlp"]
    with pytest.raises(
        UsageError, match="unknown granularity 'layer'; valid: op, neuron, channel$"
    ):
        to_graph(model, x, granularity="layer")
    with pytest.raises(UsageError, match="needs example_inputs"):
        to_graph(model, granularity="neuron")
    with pytest.raises(TypeError, match="example_inputs must be"):
        to_graph(model, True)


def test_traced_graphs_go_through_graph_files_and_the_graph_properties_command(tmp_path):
    import pandas as pd

    from hiddenstruct.cli.main import main
    from hiddenstruct.graphs import read_graph, write_graph

    model, x = reference_models()["lenet5"]
    files, expected = [], []
    for granularity, suffix in (("channel", ".json"), ("op", ".graphml")):
        G = to_graph(model, x, granularity=granularity)
        path = tmp_path / f"{granularity}{suffix}"
        write_graph(G, path)
        H = read_graph(path)
        assert H.number_of_nodes() == G.number_of_nodes()
        assert H.number_of_edges() == G.number_of_edges()
        files.append(str(path))
        expected.append(properties(G))
    out = tmp_path / "props.csv"
    assert main(["graph-properties", *files, "--output", str(out)]) == 0
    table = pd.read_csv(out)
    for row, values in zip(table.to_dict("records"), expected, strict=True):
        assert row["edges"] == values["edges"] and row["layers"] == values["layers"]
        assert row["diameter"] == pytest.approx(values["diameter"])


def test_torch_multihead_attention_is_one_op_vertex():
    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.norm = nn.LayerNorm(8)

        def forward(self, x):
            return self.norm(x + self.attn(x, x, x, need_weights=False)[0])

    G = to_graph(Encoder(), torch.zeros(1, 3, 8), granularity="op")
    assert kinds(G)["MultiheadAttention"] == 1 and kinds(G)["add"] == 1
    add = next(v for v, d in G.nodes(data=True) if d["kind"] == "add")
    assert set(G.predecessors(add)) == {"x", "getitem"}
