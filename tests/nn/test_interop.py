"""Interop with plain PyTorch: torch.nn.utils.prune masks, permanent pruning, save, export."""

from __future__ import annotations

import io

import networkx as nx
import pytest
import torch
from torch.nn.utils import prune as torch_prune

from hiddenstruct.nn import (
    GraphNet,
    MaskedDeepFFN,
    MaskedRNN,
    SequenceClassifier,
    compact,
    from_torch_prune,
    is_masked,
    masks,
    remove_masks,
)
from hiddenstruct.nn.interop import torch_pruned_tensors
from hiddenstruct.pruning import prune


def _ffn(seed: int = 0) -> MaskedDeepFFN:
    torch.manual_seed(seed)
    return MaskedDeepFFN(8, 3, [6, 5])


def test_from_torch_prune_keeps_output_mask_and_parameter_identity():
    layer = torch.nn.Linear(6, 4)
    torch_prune.l1_unstructured(layer, "weight", amount=0.5)
    torch_mask = layer.weight_mask.clone()
    orig = layer.weight_orig
    x = torch.randn(3, 6)
    before = layer(x)
    from_torch_prune(layer)
    assert torch_pruned_tensors(layer) == [] and is_masked(layer, "weight")
    assert torch.equal(masks(layer)["weight"].bool(), torch_mask.bool())
    assert layer.parametrizations.weight.original is orig
    assert not hasattr(layer, "weight_orig") and "weight_mask" not in dict(layer.named_buffers())
    assert torch.allclose(layer(x), before)


def _plain(seed: int = 0) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))


def test_prune_continues_from_torch_prune_masks():
    model = _plain()
    linears = [model[0], model[2]]
    torch_prune.global_unstructured(
        [(m, "weight") for m in linears],
        pruning_method=torch_prune.L1Unstructured,
        amount=0.4,
    )
    total = sum(m.weight.numel() for m in linears)
    pruned_by_torch = sum(int((m.weight_mask == 0).sum()) for m in linears)
    report = prune(model, "magnitude", "class_blinded", 0.5)  # half of the remaining weights
    assert report.before == total - pruned_by_torch  # torch's zeros counted as pruned
    remaining = sum(int(m.sum()) for m in masks(model).values())
    assert remaining == report.after
    assert set(masks(model)) == {"0.weight", "2.weight"} and not torch_pruned_tensors(model)


def test_remove_masks_keeps_output_and_leaves_plain_modules():
    model = _ffn()
    prune(model, "magnitude", "class_blinded", 0.6)
    x = torch.randn(5, 8)
    before = model(x)
    params = [m.parametrizations.weight.original for m in model.layers]
    remove_masks(model)
    assert masks(model) == {}
    assert all(type(m) is torch.nn.Linear for m in model.layers)
    assert [m.weight for m in model.layers] == params  # same parameter objects
    assert torch.equal(model(x), before)
    zeros = sum(int((m.weight == 0).sum()) for m in model.layers)
    assert zeros >= round(0.6 * sum(m.weight.numel() for m in model.layers)) - 1


def test_remove_masks_also_removes_torch_prune_hooks():
    model = _plain(1)
    torch_prune.l1_unstructured(model[0], "weight", amount=0.3)
    x = torch.randn(2, 8)
    before = model(x)
    remove_masks(model)
    assert not torch_pruned_tensors(model) and masks(model) == {}
    assert torch.equal(model(x), before)


@pytest.mark.parametrize(
    "build",
    [
        lambda: _ffn(2),
        lambda: GraphNet(nx.gnp_random_graph(12, 0.3, seed=1), 8, 3),
        lambda: SequenceClassifier(MaskedRNN(4, [5], "GRU"), num_classes=2),
    ],
    ids=["ffn", "graphnet", "gru-classifier"],
)
def test_torch_save_load_of_masked_model_round_trips(build):
    torch.manual_seed(3)
    model = build()
    prune(model, "magnitude", "class_blinded", 0.5)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    again = torch.load(buffer, weights_only=False)
    assert set(masks(again)) == set(masks(model))
    assert all(torch.equal(masks(again)[k], v) for k, v in masks(model).items())
    x = (
        torch.randint(1, 100, (3, 7))
        if isinstance(model, SequenceClassifier)
        else torch.randn(3, 8)
    )
    model.eval(), again.eval()
    assert torch.equal(again(x), model(x))
    # the copy is independent: unmasking it leaves the original masked
    remove_masks(again)
    assert masks(again) == {} and len(masks(model)) > 0
    # and it still prunes
    prune(again, "magnitude", "class_blinded", 0.5)


def test_torch_export_on_masked_and_compacted_models():
    model = _ffn(4)
    prune(model, "magnitude", "class_blinded", 0.7)
    x = torch.randn(4, 8)
    exported = torch.export.export(model, (x,))
    assert torch.allclose(exported.module()(x), model(x))
    small = compact(model)
    exported_small = torch.export.export(small, (x,))
    assert torch.allclose(exported_small.module()(x), model(x), atol=1e-6)
    net = GraphNet(nx.gnp_random_graph(10, 0.3, seed=2), 8, 3)
    prune(net, "magnitude", "class_blinded", 0.5)
    assert torch.allclose(torch.export.export(net, (x,)).module()(x), net(x), atol=1e-6)
