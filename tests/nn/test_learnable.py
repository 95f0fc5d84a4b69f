"""Learnable masks: logits trained with the weights, a hard binary mask at inference."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs import to_graph
from hiddenstruct.nn import (
    LearnableMask,
    MaskedDeepFFN,
    apply_learnable_masks,
    apply_mask,
    expected_density,
    get_mask,
    harden,
    is_masked,
    learnable_masks,
    learned_graph,
    original,
)


def _net(seed=0, **options):
    torch.manual_seed(seed)
    net = MaskedDeepFFN(10, 2, [8])
    apply_learnable_masks(net, **options)
    return net


def _randomise(net, seed=1):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mask in learnable_masks(net).values():
            mask.logits.copy_(torch.randn(mask.logits.shape, generator=gen))


def test_eval_uses_the_hard_mask_and_training_uses_its_value_with_soft_gradients():
    net = _net()
    _randomise(net)
    layer = net.layers[0]
    learned = learnable_masks(net)["layers.0.weight"]
    hard = learned.hard()
    assert set(hard.unique().tolist()) == {0.0, 1.0}
    net.eval()
    assert torch.equal(layer.weight, original(layer, "weight") * hard)
    x = torch.randn(5, 10)
    eval_out = net(x)
    net.train()
    assert torch.equal(layer.weight, original(layer, "weight") * hard)  # straight-through value
    train_out = net(x)
    torch.testing.assert_close(train_out, eval_out)
    train_out.sum().backward()
    assert learned.logits.grad is not None and learned.logits.grad.abs().sum() > 0
    assert original(layer, "weight").grad.abs().sum() > 0


def test_softmax_relaxation_uses_the_probabilities_in_training():
    net = _net(relaxation="softmax")
    _randomise(net)
    layer, learned = net.layers[0], learnable_masks(net)["layers.0.weight"]
    torch.testing.assert_close(layer.weight, original(layer, "weight") * learned.probability())
    net.eval()
    assert torch.equal(layer.weight, original(layer, "weight") * learned.hard())


def test_logits_are_parameters_in_the_state_dict_and_survive_deepcopy():
    net = _net()
    _randomise(net)
    names = [n for n, _ in net.named_parameters()]
    assert sum(n.endswith("logits") for n in names) == 2
    state = net.state_dict()
    twin = _net(seed=5)
    twin.load_state_dict(state)
    copied = copy.deepcopy(net)
    x = torch.randn(3, 10)
    for other in (twin, copied):
        other.eval()
    net.eval()
    torch.testing.assert_close(twin(x), net(x))
    torch.testing.assert_close(copied(x), net(x))


def test_training_learns_a_sparse_structure_that_keeps_the_informative_inputs():
    """Only inputs 0 and 1 decide the class; with a density penalty the learned masks of a
    one-layer model drop most other inputs and keep those two."""
    torch.manual_seed(0)
    x = torch.randn(512, 10)
    y = (x[:, 0] + x[:, 1] > 0).long()
    net = MaskedDeepFFN(10, 2)
    apply_learnable_masks(net)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    start = expected_density(net).item()
    for _ in range(300):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y) + 0.5 * expected_density(net)
        loss.backward()
        opt.step()
    hard = learnable_masks(net)["layers.0.weight"].hard()
    net.eval()
    accuracy = (net(x).argmax(1) == y).float().mean().item()
    assert start == pytest.approx(0.9)
    assert accuracy > 0.95
    assert hard[:, :2].sum() >= 2  # every informative input still reaches an output
    assert hard[:, 2:].mean() < 0.3, hard


def test_learned_graph_and_harden_agree_and_keep_outputs():
    net = _net()
    _randomise(net)
    graph = learned_graph(net)
    assert net.training  # the mode is restored
    kept = sum(int(m.hard().sum()) for m in learnable_masks(net).values())
    assert graph.number_of_edges() == kept
    assert {("in", 0), ("out", 1)} <= set(graph.nodes)
    x = torch.randn(4, 10)
    net.eval()
    before = net(x)
    weight = original(net.layers[0], "weight")
    harden(net)
    assert learnable_masks(net) == {}
    assert original(net.layers[0], "weight") is weight  # the same parameter object
    assert is_masked(net.layers[0], "weight")
    torch.testing.assert_close(net(x), before)
    after = to_graph(net)
    assert set(after.edges) == set(graph.edges)


def test_binary_masks_underneath_stay_and_combine():
    net = MaskedDeepFFN(6, 2, [4])
    apply_mask(net.layers[0], "weight", torch.eye(4, 6))
    apply_learnable_masks(net)
    with torch.no_grad():
        learnable_masks(net)["layers.0.weight"].logits[0, 0] = torch.tensor([5.0, -5.0])
    harden(net)
    expected = torch.eye(4, 6)
    expected[0, 0] = 0
    assert torch.equal(get_mask(net.layers[0], "weight"), expected)


def test_plain_torch_models_and_bad_settings():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    masks = apply_learnable_masks(model, init_probability=0.5)
    assert sorted(masks) == ["0.weight", "2.weight"]
    assert isinstance(masks["0.weight"], LearnableMask)
    assert expected_density(model).item() == pytest.approx(0.5)
    with pytest.raises(UsageError, match="already has a learnable mask"):
        apply_learnable_masks(model)
    with pytest.raises(UsageError, match="relaxation"):
        apply_learnable_masks(MaskedDeepFFN(3, 2), relaxation="gumbel")
    with pytest.raises(UsageError, match="init_probability"):
        apply_learnable_masks(MaskedDeepFFN(3, 2), init_probability=1.0)
    with pytest.raises(UsageError, match="no learnable masks"):
        expected_density(MaskedDeepFFN(3, 2))


def test_graph_built_networks_learn_their_edges_too():
    """A GraphNet's flat edge vector gets one learnable mask entry per DAG edge."""
    import networkx as nx

    from hiddenstruct.nn import GraphNet

    torch.manual_seed(0)
    net = GraphNet(nx.DiGraph([(0, 2), (1, 2), (0, 3), (2, 3)]), 5, 2)
    masks = apply_learnable_masks(net)
    assert sorted(masks) == ["edges.weight", "input_layer.weight", "readout.weight"]
    (net(torch.randn(3, 5)).sum() + expected_density(net)).backward()
    assert masks["edges.weight"].logits.grad.abs().sum() > 0
    with torch.no_grad():
        masks["edges.weight"].logits[0] = torch.tensor([3.0, -3.0])  # turn edge 0 off
    dropped = net.edge_list()[0]
    graph = learned_graph(net, hidden_only=True)
    assert dropped not in graph.edges and graph.number_of_edges() == 3
