"""Effective sparsity: live weights on an input→output path; pruning the rest keeps outputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs import effective_sparsity, effective_weights, prune_ineffective
from hiddenstruct.nn import MaskedDeepFFN, apply_mask
from hiddenstruct.nn.masking import get_mask
from hiddenstruct.zoo import mlp, reference_models


def sparsify(model, keep, seed):
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.Linear | nn.Conv2d):
            apply_mask(module, "weight", torch.rand(module.weight.shape, generator=gen) < keep)


def chain_reference(weights):
    """Effective masks of a Linear chain by boolean matrix products (independent of tracing)."""
    live = [w != 0 for w in weights]
    reached = [torch.ones(live[0].shape[1], dtype=torch.bool)]
    for m in live:
        reached.append((m.float() @ reached[-1].float()) > 0)
    reaching = [torch.ones(live[-1].shape[0], dtype=torch.bool)]
    for m in reversed(live):
        reaching.insert(0, (m.float().T @ reaching[0].float()) > 0)
    return [m & reaching[k + 1][:, None] & reached[k][None, :] for k, m in enumerate(live)]


def test_mlp_effective_masks_equal_the_matrix_reference():
    model = mlp([30, 20, 15, 5], seed=0)
    sparsify(model, 0.12, seed=1)
    masks = effective_weights(model, torch.zeros(1, 30))
    layers = [m for m in model if isinstance(m, nn.Linear)]
    expected = chain_reference([m.weight.detach() for m in layers])
    names = ["1.weight", "3.weight", "5.weight"]
    assert list(masks) == names
    for name, mask in zip(names, expected, strict=True):
        assert torch.equal(masks[name], mask)
    report = effective_sparsity(model, torch.zeros(1, 30))
    total = report.total
    assert total.effective == sum(int(m.sum()) for m in expected) < total.live
    assert report.to_rows()[-1]["effective_nonzero_fraction"] == total.effective / total.weights


def test_bias_only_neuron_keeps_its_weights_when_it_emits_a_constant():
    model = mlp([3, 2, 1], seed=0)
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]]))
        model[1].bias.copy_(torch.tensor([0.5, 0.7]))  # neuron 1: no live input, ReLU(0.7) = 0.7
        model[3].weight.copy_(torch.tensor([[1.0, -3.0]]))
    x = torch.randn(8, 3)
    before = model(x)
    masks = effective_weights(model, x)
    assert masks["3.weight"].tolist() == [[True, False]]  # off every input→output path
    prune_ineffective(model, x)
    assert model[3].weight[0, 1] == -3.0  # kept: it carries the constant 0.7·(−3)
    torch.testing.assert_close(model(x), before, atol=1e-6, rtol=0)
    with torch.no_grad():
        model[1].bias[1] = -0.7  # ReLU(−0.7) = 0: now the weight carries nothing
    before = model(x)
    prune_ineffective(model, x)
    assert model[3].weight[0, 1] == 0.0
    torch.testing.assert_close(model(x), before, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["mlp", "lenet5", "lstm", "gru", "resnet18"])
def test_prune_ineffective_keeps_outputs_and_removes_only_ineffective_weights(name):
    model, x = reference_models(seed=2)[name]
    model.eval()
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if p.dim() >= 2 and "embedding" not in pname:
                p.mul_(torch.rand(p.shape, generator=gen) < 0.06)
    before = model(*x)
    eff = effective_weights(model, x)
    report = prune_ineffective(model, x)
    torch.testing.assert_close(model(*x), before, atol=1e-6, rtol=0)
    after = effective_sparsity(model, x)
    assert after.total.effective == report.total.effective  # nothing effective removed
    assert after.total.live <= report.total.live
    for layer in after.layers:
        module_name, _, tensor = layer.name.rpartition(".")
        weight = getattr(model.get_submodule(module_name), tensor)
        assert not torch.any(eff[layer.name] & (weight == 0))  # effective weights survive
    if name in ("mlp", "lenet5", "resnet18"):
        assert after.total.live < report.total.live  # 6 % kept leaves dead weights to remove


def test_masked_ffn_needs_no_example_input_and_its_masks_take_the_removal():
    model = MaskedDeepFFN(20, 3, [10, 10])
    gen = torch.Generator().manual_seed(0)
    apply_mask(model.layers[0], "weight", torch.rand(10, 20, generator=gen) < 0.1)
    report = effective_sparsity(model)
    assert [layer.name for layer in report.layers] == [f"layers.{i}.weight" for i in range(3)]
    dead_hidden = int((model.layers[0].weight == 0).all(1).sum())
    assert report.layers[1].effective == 10 * (10 - dead_hidden)
    x = torch.randn(4, 20)
    before = model(x)
    prune_ineffective(model)
    torch.testing.assert_close(model(x), before, atol=1e-6, rtol=0)
    assert int(get_mask(model.layers[1], "weight").sum()) <= 100


def test_conv_kernel_reading_a_dead_channel_is_ineffective():
    model = nn.Sequential(nn.Conv2d(1, 3, 3, bias=False), nn.ReLU(), nn.Conv2d(3, 2, 3))
    with torch.no_grad():
        model[0].weight[1] = 0  # channel 1 has no live input
    masks = effective_weights(model, torch.zeros(1, 1, 8, 8))
    assert not masks["2.weight"][:, 1].any() and masks["2.weight"][:, [0, 2]].all()
    assert masks["0.weight"].sum() == 2 * 9


def test_mixing_normalisation_and_training_batchnorm_are_refused():
    model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3), nn.Linear(3, 2))
    with pytest.raises(UsageError, match="mix neurons"):
        prune_ineffective(model, torch.zeros(1, 4))
    net, y = reference_models()["resnet18"]
    with pytest.raises(UsageError, match=r"model.eval\(\)"):
        prune_ineffective(net.train(), y)
    with pytest.raises(UsageError, match="needs example_inputs"):
        effective_weights(net)


def test_graphnet_effective_edges_equal_the_path_edges_of_its_structure_graph():
    import networkx as nx

    from hiddenstruct.nn import GraphNet

    net = GraphNet(nx.gnp_random_graph(12, 0.3, seed=1), 6, 3, seed=0)
    gen = torch.Generator().manual_seed(2)
    for module in (net.input_layer, net.edges, net.readout):
        apply_mask(module, "weight", torch.rand(module.weight.shape, generator=gen) < 0.4)
    G = net.structure_graph(include_io=True)
    inputs = [v for v, d in G.nodes(data=True) if d.get("role") == "input"]
    outputs = [v for v, d in G.nodes(data=True) if d.get("role") == "output"]
    reached = set(inputs).union(*(nx.descendants(G, v) for v in inputs))
    reaching = set(outputs).union(*(nx.ancestors(G, v) for v in outputs))
    on_path = sum(u in reached and v in reaching for u, v in G.edges())
    report = effective_sparsity(net)
    assert report.total.effective == on_path < report.total.live == G.number_of_edges()
    x = torch.randn(5, 6)
    before = net(x)
    prune_ineffective(net)
    torch.testing.assert_close(net(x), before, atol=1e-6, rtol=0)
    assert effective_sparsity(net).total.effective == on_path


def test_two_layer_gru_classifier_prunes_without_changing_outputs():
    from hiddenstruct.zoo import RNNTextClassifier

    model = RNNTextClassifier(cell="GRU", layers=2, seed=0)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("rnn.weight") or name == "fc.weight":
                p.mul_(torch.rand(p.shape, generator=gen) < 0.05)
    x = torch.randint(0, 100, (3, 6), generator=gen)
    before = model(x)
    report = effective_sparsity(model, x)
    assert [layer.name for layer in report.layers][:2] == ["rnn.weight_ih_l0", "rnn.weight_hh_l0"]
    prune_ineffective(model, x)
    torch.testing.assert_close(model(x), before, atol=1e-6, rtol=0)


def test_constants_are_read_with_dropout_off_and_the_train_mode_is_kept():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Dropout(0.9), nn.Linear(2, 1))
    with torch.no_grad():
        model[0].weight[1] = 0  # neuron 1: no live input, emits ReLU(bias) > 0
        model[0].bias[1] = 0.7
        model[3].weight.fill_(1.0)
    x = torch.randn(4, 3)
    for _ in range(5):  # dropout would zero the constant in most passes if it were on
        prune_ineffective(model, x)
    assert model[3].weight[0, 1] == 1.0 and model.training
    model.eval()
    before = model(x)
    prune_ineffective(model, x)
    torch.testing.assert_close(model(x), before, atol=1e-6, rtol=0)
