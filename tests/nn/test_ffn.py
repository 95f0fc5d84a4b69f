"""MaskedDeepFFN: shapes, masks on every weight, state_dict, deepcopy, structure graph."""

from __future__ import annotations

import copy

import pytest
import torch

from hiddenstruct.errors import UsageError
from hiddenstruct.nn import MaskedDeepFFN, apply_mask, load_state_dict, masks, original


def _prune_randomly(model: MaskedDeepFFN, keep: float, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    chosen = {
        name: (torch.rand(m.shape, generator=g) < keep).float() for name, m in masks(model).items()
    }
    for i, layer in enumerate(model.layers):
        apply_mask(layer, "weight", chosen[f"layers.{i}.weight"])
    return chosen


def test_shapes_and_flattening():
    torch.manual_seed(0)
    model = MaskedDeepFFN((1, 28, 28), 10, [30, 20])
    assert model.input_features == 784
    x = torch.randn(5, 1, 28, 28)
    out = model(x)
    assert out.shape == (5, 10)
    assert torch.equal(out, model(x.reshape(5, 784)))
    flat = MaskedDeepFFN(12, 3)
    assert flat(torch.randn(2, 12)).shape == (2, 3)


def test_every_weight_masked_with_all_ones_at_construction():
    model = MaskedDeepFFN(8, 3, [6, 5, 4], activation="tanh", layer_norm=True)
    found = masks(model)
    assert set(found) == {f"layers.{i}.weight" for i in range(4)}
    assert all(bool(torch.all(m == 1)) for m in found.values())
    # parameter count is unchanged by masking (masks are buffers)
    expected = sum(a * b + b for a, b in zip([8, 6, 5, 4], [6, 5, 4, 3], strict=True)) + 2 * (
        6 + 5 + 4
    )
    assert sum(p.numel() for p in model.parameters()) == expected


def test_exact_nonzero_counts_and_zero_gradients():
    torch.manual_seed(0)
    model = MaskedDeepFFN(10, 4, [9, 7])
    chosen = _prune_randomly(model, 0.3, seed=1)
    for i, layer in enumerate(model.layers):
        assert int(torch.count_nonzero(layer.weight)) == int(chosen[f"layers.{i}.weight"].sum())
    model(torch.randn(6, 10)).logsumexp(1).sum().backward()
    for i, layer in enumerate(model.layers):
        grad = original(layer, "weight").grad
        assert torch.all(grad[chosen[f"layers.{i}.weight"] == 0] == 0)


def test_state_dict_round_trip_and_fresh_models_match():
    torch.manual_seed(0)
    model = MaskedDeepFFN(10, 4, [9, 7])
    _prune_randomly(model, 0.4, seed=2)
    fresh = MaskedDeepFFN(10, 4, [9, 7])
    assert set(fresh.state_dict()) == set(model.state_dict())
    fresh.load_state_dict(model.state_dict())
    x = torch.randn(3, 10)
    assert torch.equal(fresh(x), model(x))
    # also through the helper that creates missing masks
    plain = MaskedDeepFFN(10, 4, [9, 7])
    load_state_dict(plain, model.state_dict())
    assert torch.equal(plain(x), model(x))


def test_deepcopy_and_optimizer_identity():
    torch.manual_seed(0)
    model = MaskedDeepFFN(5, 2, [4])
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    ids = {id(p) for p in model.parameters()}
    chosen = _prune_randomly(model, 0.5, seed=3)
    assert {id(p) for p in model.parameters()} == ids
    model(torch.randn(4, 5)).sum().backward()
    opt.step()
    assert torch.all(model.layers[0].weight[chosen["layers.0.weight"] == 0] == 0)
    clone = copy.deepcopy(model)
    x = torch.randn(2, 5)
    assert torch.equal(clone(x), model(x))


def test_layer_norm_and_activations_change_outputs():
    torch.manual_seed(0)
    a = MaskedDeepFFN(6, 2, [5], activation="relu")
    torch.manual_seed(0)
    b = MaskedDeepFFN(6, 2, [5], activation="tanh")
    x = torch.randn(4, 6)
    assert not torch.allclose(a(x), b(x))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(input_size=0, output_size=2),
        dict(input_size=(1, -3), output_size=2),
        dict(input_size=4, output_size=0),
        dict(input_size=4, output_size=2, hidden_sizes=[3, 0]),
        dict(input_size=4, output_size=2, activation="nope"),
    ],
)
def test_bad_arguments_raise_usage_error(kwargs):
    with pytest.raises(UsageError):
        MaskedDeepFFN(**kwargs)


def test_wrong_input_width_is_reported():
    model = MaskedDeepFFN(6, 2, [3])
    with pytest.raises(UsageError, match="6 input features"):
        model(torch.randn(2, 5))


def test_structure_graph_counts_live_edges():
    torch.manual_seed(0)
    model = MaskedDeepFFN(6, 3, [5, 4])
    chosen = _prune_randomly(model, 0.5, seed=4)
    G = model.structure_graph(include_io=False)
    assert G.number_of_nodes() == 9
    assert G.number_of_edges() == int(chosen["layers.1.weight"].sum())
    assert {G.nodes[v]["layer"] for v in G} == {0, 1}
    for u, v in G.edges:
        assert G.nodes[u]["layer"] + 1 == G.nodes[v]["layer"]
        assert chosen["layers.1.weight"][G.nodes[v]["unit"], G.nodes[u]["unit"]] == 1
    full = model.structure_graph(include_io=True)
    assert full.number_of_nodes() == 6 + 9 + 3
    assert full.number_of_edges() == sum(int(m.sum()) for m in chosen.values())
    assert full.nodes[("in", 0)]["layer"] == -1 and full.nodes[("out", 2)]["layer"] == 2


def test_structure_graph_keeps_inputs_and_outputs_by_default_like_to_graph():
    from hiddenstruct.graphs import to_graph

    model = MaskedDeepFFN(4, 2, [3])
    assert model.structure_graph().number_of_nodes() == 4 + 3 + 2
    assert set(model.structure_graph().nodes) == set(to_graph(model).nodes)
    assert model.structure_graph(include_io=False).number_of_nodes() == 3
