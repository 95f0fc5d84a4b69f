"""Structured pruning of any traced model: groups, scores, selection, masks; then compaction."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn import (
    MaskedDeepFFN,
    MaskedRNN,
    compact,
    dependency_graph,
    get_mask,
    masked_modules,
)
from hiddenstruct.pruning import group_scores, prune, prune_structured, prune_structured_schedule
from hiddenstruct.pruning.schedules import relative
from hiddenstruct.zoo import LeNet5, ResNet18, reference_models


class AttentionBlock(nn.Module):
    """A pre-norm transformer block on nn.MultiheadAttention (heads) and a ReLU MLP."""

    def __init__(self, d: int = 16, heads: int = 4, ff: int = 32, classes: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.norm1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, ff)
        self.ff2 = nn.Linear(ff, d)
        self.head = nn.Linear(d, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        x = x + self.ff2(torch.relu(self.ff1(self.norm2(x))))
        return self.head(x[:, 0])


class RecurrentClassifier(nn.Module):
    """Our MaskedRNN (two layers of different sizes) read by a linear head at the last step."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.rnn = MaskedRNN(5, [12, 9], mode)
        self.head = nn.Linear(9, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _states = self.rnn(x)
        return self.head(out[:, -1])


class ProjectedLSTM(nn.Module):
    """A two-layer torch LSTM with projections (proj_size) read at the last step."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.rnn = nn.LSTM(5, 12, num_layers=2, proj_size=6, batch_first=True)
        self.head = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, (_h, _c) = self.rnn(x)
        return self.head(out[:, -1])


class Concat(nn.Module):
    """Two convolution branches concatenated on channels, then a 1x1 conv and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a = nn.Conv2d(3, 6, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)
        self.bn = nn.BatchNorm2d(10)
        self.mix = nn.Conv2d(10, 8, 1)
        self.head = nn.Linear(8 * 4 * 4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn(torch.cat([self.a(x), self.b(x)], dim=1)))
        return self.head(self.mix(x).view(x.size(0), -1))


class ProjectedInputs(nn.Module):
    """A Linear read by a recurrent layer (its neurons are the RNN's input columns)."""

    def __init__(self, masked: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.proj = nn.Linear(5, 8)
        self.rnn = MaskedRNN(8, [7], "GRU") if masked else nn.LSTM(8, 7, batch_first=True)
        self.head = nn.Linear(7, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(torch.relu(self.proj(x)))[0][:, -1])


def cases() -> dict[str, tuple[nn.Module, tuple[torch.Tensor, ...]]]:
    models = dict(reference_models())
    models["lstm_proj"] = (ProjectedLSTM(), (torch.randn(2, 6, 5),))
    models["concat"] = (Concat().eval(), (torch.randn(2, 3, 4, 4),))
    models["linear_lstm"] = (ProjectedInputs(False), (torch.randn(2, 6, 5),))
    models["linear_masked_gru"] = (ProjectedInputs(True), (torch.randn(2, 6, 5),))
    models["attention"] = (AttentionBlock().eval(), (torch.randn(2, 6, 16),))
    for mode in ("RNN_TANH", "RNN_RELU", "GRU", "LSTM"):
        models[f"masked_{mode}"] = (RecurrentClassifier(mode), (torch.randn(2, 6, 5),))
    return models


KINDS = {
    "mlp": {"neuron"},
    "lenet5": {"channel", "neuron"},
    "resnet18": {"channel"},
    "lstm": {"hidden"},
    "gru": {"hidden"},
    "transformer": {"neuron"},
    "attention": {"head", "neuron"},
    "lstm_proj": {"hidden"},
    "concat": {"channel"},
    "linear_lstm": {"neuron", "hidden"},
    "linear_masked_gru": {"neuron", "hidden"},
    **{f"masked_{m}": {"hidden"} for m in ("RNN_TANH", "RNN_RELU", "GRU", "LSTM")},
}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("name", sorted(KINDS))
def test_prune_then_compact_keeps_outputs_and_shrinks(name):
    model, inputs = cases()[name]
    model.eval()
    graph = dependency_graph(model, inputs)
    assert {g.kind for g in graph.groups} == KINDS[name]
    report = prune_structured(model, 0.5, example_inputs=inputs, graph=graph)
    assert report.left_alone == ()  # the default scope covers every group's own weights
    for layer in report.layers:  # the same fraction of every layer, rounded half up
        assert layer.after == layer.before - int(layer.before * 0.5 + 0.5) or layer.after == 1
    masked_out = model(*inputs)
    small = compact(model, inputs)
    assert n_params(small) < n_params(model)
    torch.testing.assert_close(small(*inputs), masked_out, rtol=1e-5, atol=1e-5)
    # what is left has nothing more to remove: a second compaction changes no size
    assert n_params(compact(small, inputs)) == n_params(small)


def test_resnet_residual_adds_tie_channels_across_blocks():
    model, inputs = ResNet18(width=4).eval(), torch.randn(1, 3, 32, 32)
    layers = {g.layer for g in dependency_graph(model, inputs).groups}
    # the stem and both blocks' second convolutions of stage 1 add into one stream
    assert "conv1:out+layer1.0.conv2:out+layer1.1.conv2:out" in layers
    assert (
        "layer2.0.conv2:out+layer2.0.downsample.0:out+layer2.1.conv2:out" in layers
    )  # a projection shortcut starts a new stream
    assert "layer3.1.conv1:out" in layers
    assert len(layers) == 4 + 8  # one stream per stage, one inner conv per block


def test_resnet_channel_counts_after_compaction():
    model, inputs = ResNet18(width=8).eval(), torch.randn(1, 3, 32, 32)
    prune_structured(model, 0.5, example_inputs=inputs, unit="channel", criterion="l1")
    small = compact(model, inputs)
    assert small.conv1.out_channels == 4 and small.bn1.num_features == 4
    assert small.layer4[1].conv2.out_channels == 32 and small.fc.in_features == 32
    assert small.layer2[0].downsample[0].in_channels == 4
    assert not list(masked_modules(small))  # structured masks leave nothing to mask: plain
    torch.testing.assert_close(small(inputs), model(inputs), rtol=1e-5, atol=1e-5)


def test_concatenated_channels_keep_their_own_groups_and_offsets():
    model, inputs = cases()["concat"]
    graph = dependency_graph(model, inputs)
    b_group = [g for g in graph.groups if g.layer == "b:out"][0]
    # channel k of branch b is channel 6 + k of the concatenation: BatchNorm and mix's input
    assert {(m.module, m.axis, m.index) for m in b_group.members} == {
        ("b", "out", 0),
        ("bn", "channel", 6),
        ("mix", "in", 6),
    }
    prune_structured(model, 0.5, example_inputs=inputs)
    small = compact(model, inputs)
    assert (small.a.out_channels, small.b.out_channels, small.bn.num_features) == (3, 2, 5)
    assert small.head.in_features == 4 * 16  # flattened by view(x.size(0), -1)


def test_a_recurrent_layer_loses_the_input_columns_of_pruned_neurons():
    for masked in (False, True):
        model, inputs = ProjectedInputs(masked), torch.randn(2, 6, 5)
        prune_structured(model, 0.5, example_inputs=inputs, unit="neuron")
        small = compact(model, inputs)
        assert small.proj.out_features == 4 and small.rnn.input_size == 4
        torch.testing.assert_close(small(inputs), model(inputs), rtol=1e-5, atol=1e-5)


def test_our_masked_mlp_is_pruned_structurally_and_compacted_by_its_own_compact():
    model, inputs = MaskedDeepFFN(784, 10, [300, 100]), torch.randn(3, 1, 28, 28)
    torch.manual_seed(0)
    prune(model, "magnitude", "class_blinded", 0.3)  # unstructured masks first: kept inside
    report = prune_structured(model, 0.5, example_inputs=inputs, criterion="l2")
    assert [(c.before, c.after) for c in report.layers] == [(300, 150), (100, 50)]
    small = compact(model)  # MaskedDeepFFN's own compaction: dead neurons
    assert [layer.out_features for layer in small.layers] == [150, 50, 10]
    torch.testing.assert_close(small(inputs), model(inputs), rtol=1e-5, atol=1e-5)


def test_masks_only_shrink_and_schedule_steps():
    model, inputs = LeNet5(), torch.randn(2, 1, 28, 28)
    reports = prune_structured_schedule(
        model, relative(0.5), example_inputs=inputs, unit="channel", steps=2
    )
    conv2 = [r for r in reports[0].layers if r.layer == "conv2:out"][0]
    assert (conv2.before, conv2.after) == (16, 8)
    first = get_mask(model.conv2, "weight").clone()
    conv2 = [r for r in reports[1].layers if r.layer == "conv2:out"][0]
    assert (conv2.before, conv2.after) == (8, 4)
    second = get_mask(model.conv2, "weight")
    assert torch.all(second <= first)
    # the 12 pruned channels of conv2 are masked as the 12 column blocks of fc1 (5x5 each)
    dead_columns = (get_mask(model.fc1, "weight") == 0).all(dim=0)
    assert int(dead_columns.sum()) == 12 * 25


def test_training_after_pruning_keeps_pruned_weights_zero():
    model, inputs = LeNet5(), torch.randn(4, 1, 28, 28)
    prune_structured(model, 0.5, example_inputs=inputs, unit="channel")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = nn.functional.cross_entropy(model(inputs), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    optimizer.step()
    mask = get_mask(model.conv1, "weight")
    assert torch.count_nonzero(model.conv1.weight[mask == 0]) == 0
    assert torch.count_nonzero(model.conv1.weight[mask == 1]) > 0


def test_global_selection_prunes_the_lowest_scores_over_all_layers():
    model, inputs = reference_models()["mlp"]
    graph = dependency_graph(model, inputs)
    scores = group_scores(graph, graph.groups, "l1")
    prune_structured(model, 0.3, example_inputs=inputs, selection="global", graph=graph)
    w1 = get_mask(model[1], "weight")
    w2 = get_mask(model[3], "weight")
    alive = torch.cat([w1.any(dim=1), w2.any(dim=1)])
    assert int((~alive).sum()) == round(0.3 * 400)
    assert scores[~alive].max() <= scores[alive].min()


def test_l1_l2_magnitude_and_taylor_scores_by_hand():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    inputs = torch.randn(5, 4)
    graph = dependency_graph(model, inputs)
    groups = sorted(graph.groups, key=lambda g: g.members[0].index)
    rows, cols = model[0].weight.detach(), model[2].weight.detach()
    l1 = group_scores(graph, groups, "l1")
    entries = 4 + 2  # a row of the first layer, a column of the second
    torch.testing.assert_close(l1, (rows.abs().sum(1) + cols.abs().sum(0)).double() / entries)
    l2 = group_scores(graph, groups, "l2")
    expected = ((rows**2).sum(1) + (cols**2).sum(0)).double() / entries
    torch.testing.assert_close(l2, expected.sqrt())
    magnitude = group_scores(graph, groups, "magnitude")
    torch.testing.assert_close(magnitude, rows.abs().sum(1).double() / 4)
    target = torch.tensor([0, 1, 1, 0, 1])
    taylor = group_scores(graph, groups, "taylor", batch=(inputs, target))
    loss = nn.functional.cross_entropy(model(inputs), target)
    g0, g2 = torch.autograd.grad(loss, [model[0].weight, model[2].weight])
    expected = ((g0 * rows).sum(1) + (g2 * cols).sum(0)).double() ** 2
    torch.testing.assert_close(taylor, expected)


def test_modes_of_every_module_survive_analysis_and_compaction():
    model, inputs = ResNet18(width=4).train(), torch.randn(2, 3, 32, 32)
    model.layer1[0].bn1.eval()  # a frozen BatchNorm inside a training model
    prune_structured(model, 0.5, example_inputs=inputs)
    small = compact(model, inputs)
    for net in (model, small):
        assert net.training and net.layer2[0].bn1.training and not net.layer1[0].bn1.training


def test_taylor_leaves_batchnorm_statistics_alone():
    model, inputs = ResNet18(width=4).train(), torch.randn(4, 3, 32, 32)
    before = model.bn1.running_mean.clone()
    prune_structured(
        model, 0.25, example_inputs=inputs, criterion="taylor", batch=(inputs, torch.arange(4))
    )
    assert torch.equal(model.bn1.running_mean, before) and model.training


def test_random_scores_follow_the_seed():
    model, inputs = reference_models()["lenet5"]
    graph = dependency_graph(model, inputs)
    a = group_scores(graph, graph.groups, "random", seed=3)
    assert torch.equal(a, group_scores(graph, graph.groups, "random", seed=3))
    assert not torch.equal(a, group_scores(graph, graph.groups, "random", seed=4))


def test_outputs_and_layer_norm_inputs_are_pinned():
    model, inputs = AttentionBlock(), torch.randn(2, 6, 16)
    graph = dependency_graph(model, inputs)
    modules = {m.module for g in graph.groups for m in g.members if m.produces}
    assert modules == {"attn", "ff1"}  # head (output) and ff2/out_proj (residual into norms)


@pytest.mark.parametrize("batch_first", [True, False])
def test_compacted_heads_honour_padding_and_per_head_attention_masks(batch_first):
    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.attn = nn.MultiheadAttention(12, 4, batch_first=batch_first, kdim=6, vdim=6)
            self.head = nn.Linear(12, 2)

        def forward(self, q, kv, padding, per_head):
            out = self.attn(q, kv, kv, key_padding_mask=padding, attn_mask=per_head)[0]
            return self.head(out)

    B, L, S = 2, 3, 5
    q = torch.randn(B, L, 12) if batch_first else torch.randn(L, B, 12)
    kv = torch.randn(B, S, 6) if batch_first else torch.randn(S, B, 6)
    padding = torch.tensor([[False] * 5, [False, False, False, True, True]])
    per_head = torch.rand(B * 4, L, S) > 0.7
    per_head[..., 0] = False  # every query sees at least one key
    inputs = (q, kv, padding, per_head)
    model = Masked().eval()
    prune_structured(model, 0.5, example_inputs=inputs, unit="head", criterion="random", seed=1)
    small = compact(model, inputs)
    assert small.attn.num_heads == 2
    torch.testing.assert_close(small(*inputs), model(*inputs), rtol=1e-5, atol=1e-5)


def test_attention_weights_read_pin_the_heads():
    class ReadsWeights(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):
            out, weights = self.attn(x, x, x)
            return out, weights

    graph = dependency_graph(ReadsWeights(), torch.randn(1, 3, 8))
    assert graph.groups == []


@pytest.mark.filterwarnings(
    "ignore:The tensor attributes self.rnn._flat_weights"
)  # torch's, nn.GRU
def test_compacted_models_save_export_and_run_on_our_engine():
    for name in ("resnet18", "gru", "masked_LSTM", "attention"):
        model, inputs = cases()[name]
        model.eval()
        prune_structured(model, 0.5, example_inputs=inputs)
        small = compact(model, inputs)
        buffer = io.BytesIO()
        torch.save(small, buffer)
        buffer.seek(0)
        loaded = torch.load(buffer, weights_only=False)  # our own object, written just above
        torch.testing.assert_close(loaded(*inputs), small(*inputs))
        if name != "masked_LSTM":  # MaskedRNN (ours) checks its input data: not exportable
            exported = torch.export.export(small, inputs)
            torch.testing.assert_close(exported.module()(*inputs), small(*inputs))
    assert isinstance(small.attn, nn.Module) and small.attn.num_heads == 2


def test_unstructured_zeros_inside_kept_units_keep_their_masks_through_compaction():
    model, inputs = cases()["gru"]
    prune(model, "magnitude", "class_blinded", 0.3)  # unstructured, every weight matrix
    prune_structured(model, 0.5, example_inputs=inputs, unit="hidden")
    model(*inputs)  # a forward leaves masked products in the GRU's _flat_weights
    small = compact(model, inputs)
    mask = get_mask(small.rnn, "weight_hh_l0")
    assert mask.shape == (3 * 16, 16) and 0 < int(mask.sum()) < mask.numel()
    buffer = io.BytesIO()
    torch.save(small, buffer)  # masked torch RNNs deep-copy and pickle
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)  # our own object, written just above
    torch.testing.assert_close(loaded(*inputs), model(*inputs), rtol=1e-5, atol=1e-5)


def test_compacted_masked_rnn_is_a_masked_rnn_on_the_native_engine():
    model, inputs = cases()["masked_GRU"]
    prune_structured(model, 0.5, example_inputs=inputs)
    small = compact(model, inputs)
    assert isinstance(small.rnn, MaskedRNN) and small.rnn.hidden_sizes == (6, 4)
    torch_path = small.rnn.__class__(5, [6, 4], "GRU", fused_cpu=False)
    torch_path.load_state_dict(small.rnn.state_dict())
    x = inputs[0]
    torch.testing.assert_close(small.rnn(x)[0], torch_path(x)[0], rtol=1e-5, atol=1e-6)


def test_bad_input_is_one_clear_usage_error():
    model, inputs = LeNet5(), torch.randn(1, 1, 28, 28)
    with pytest.raises(UsageError, match="unknown unit 'filter'"):
        prune_structured(model, 0.5, example_inputs=inputs, unit="filter")
    with pytest.raises(UsageError, match="unknown structured criterion"):
        prune_structured(model, 0.5, example_inputs=inputs, criterion="l3")
    with pytest.raises(UsageError, match="unknown structured selection 'tensor'; valid: layer"):
        prune_structured(model, 0.5, example_inputs=inputs, selection="tensor")
    with pytest.raises(UsageError, match="unknown pruning scope 'tensor'"):
        prune_structured(model, 0.5, example_inputs=inputs, scope="tensor")
    with pytest.raises(UsageError, match="taylor criterion needs batch"):
        prune_structured(model, 0.5, example_inputs=inputs, criterion="taylor")
    with pytest.raises(UsageError, match="no prunable head"):
        prune_structured(model, 0.5, example_inputs=inputs, unit="head")
    with pytest.raises(UsageError, match="needs example_inputs"):
        compact(model)

    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(UsageError, match="cannot trace the forward of Branchy"):
        prune_structured(Branchy(), 0.5, example_inputs=inputs)


def test_a_folded_module_is_left_alone_and_the_rest_is_pruned():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3), Branchy(), nn.Conv2d(4, 6, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(6 * 4 * 4, 2),
    )  # fmt: skip
    inputs = torch.randn(2, 1, 8, 8)
    with pytest.raises(UsageError, match=r"fold=\['1'\]"):
        dependency_graph(model, inputs)
    report = prune_structured(model, 0.5, example_inputs=inputs, fold=[Branchy])
    assert [(c.layer, c.after) for c in report.layers] == [("2:out", 3)]  # conv 0 feeds Branchy
    small = compact(model, inputs, fold=[Branchy])
    assert (small[0].out_channels, small[2].out_channels, small[5].in_features) == (4, 3, 48)
    torch.testing.assert_close(small(inputs), model(inputs))
