"""Masks as parametrizations: counts, gradients, state_dict, deepcopy, parameter identity."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from hiddenstruct.nn import (
    apply_mask,
    apply_masks,
    get_mask,
    is_masked,
    load_state_dict,
    masked_modules,
    masks,
    original,
    remove_mask,
)


def _random_mask(shape, keep: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < keep).float()


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 1.0])
def test_exact_nonzero_count_after_masking(keep):
    torch.manual_seed(0)
    layer = nn.Linear(13, 7)
    with torch.no_grad():
        layer.weight.copy_(torch.rand_like(layer.weight) + 0.5)  # no accidental zeros
    mask = _random_mask(layer.weight.shape, keep, seed=1)
    apply_mask(layer, "weight", mask)
    assert int(torch.count_nonzero(layer.weight)) == int(mask.sum())
    assert torch.equal(layer.weight != 0, mask.bool())


def test_masked_weights_get_zero_gradient():
    torch.manual_seed(0)
    layer = nn.Linear(6, 5)
    mask = _random_mask(layer.weight.shape, 0.5, seed=2)
    apply_mask(layer, "weight", mask)
    layer(torch.randn(8, 6)).pow(2).sum().backward()
    grad = original(layer, "weight").grad
    assert grad is not None
    assert torch.all(grad[mask == 0] == 0)
    assert torch.any(grad[mask == 1] != 0)


def test_parameter_identity_and_optimizer_created_before_masking():
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    weight = layer.weight
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    mask = _random_mask(layer.weight.shape, 0.5, seed=3)
    apply_mask(layer, "weight", mask)
    assert original(layer, "weight") is weight
    before = weight.detach().clone()
    layer(torch.randn(5, 4)).sum().backward()
    opt.step()
    changed = weight.detach() != before
    assert torch.any(changed[mask == 1])
    assert not torch.any(changed[mask == 0])  # zero grad → SGD leaves pruned entries alone
    assert weight.is_leaf


def test_reapplying_replaces_mask_in_place():
    layer = nn.Linear(4, 3)
    apply_mask(layer, "weight", torch.ones(3, 4))
    buffer = get_mask(layer, "weight")
    new = _random_mask((3, 4), 0.5, seed=4)
    apply_mask(layer, "weight", new)
    assert get_mask(layer, "weight") is buffer
    assert torch.equal(buffer, new)


def test_state_dict_round_trip_into_fresh_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    apply_mask(model[0], "weight", _random_mask((4, 5), 0.5, seed=5))
    apply_mask(model[2], "weight", _random_mask((2, 4), 0.5, seed=6))
    state = model.state_dict()
    assert "0.parametrizations.weight.0.mask" in state
    fresh = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    load_state_dict(fresh, state)
    x = torch.randn(3, 5)
    assert torch.equal(fresh(x), model(x))
    assert set(masks(fresh)) == {"0.weight", "2.weight"}
    for name, mask in masks(model).items():
        assert torch.equal(masks(fresh)[name], mask)


def test_deepcopy_keeps_masks_and_is_independent():
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    apply_mask(layer, "weight", _random_mask((3, 4), 0.5, seed=7))
    clone = copy.deepcopy(layer)
    x = torch.randn(2, 4)
    assert torch.equal(clone(x), layer(x))
    apply_mask(clone, "weight", torch.zeros(3, 4))
    assert int(get_mask(layer, "weight").sum()) > 0
    assert original(clone, "weight") is not original(layer, "weight")


def test_remove_mask_permanent_and_not():
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    weight = layer.weight
    mask = _random_mask((3, 4), 0.5, seed=8)
    apply_mask(layer, "weight", mask)
    masked_out = layer(torch.ones(1, 4))
    remove_mask(layer, "weight", permanent=True)
    assert not is_masked(layer, "weight")
    assert layer.weight is weight
    assert torch.equal(layer(torch.ones(1, 4)), masked_out)
    assert torch.all(layer.weight[mask == 0] == 0)

    other = nn.Linear(4, 3)
    values = other.weight.detach().clone()
    apply_mask(other, "weight", mask)
    remove_mask(other, "weight", permanent=False)
    assert torch.equal(other.weight.detach(), values)
    with pytest.raises(ValueError, match="no mask"):
        remove_mask(other, "weight")


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.ones(2, 2), "shape"),
        (torch.full((3, 4), 0.5), "binary"),
        (torch.full((3, 4), 2.0), "binary"),
    ],
)
def test_bad_masks_raise_value_error_naming_parameter(bad, message):
    layer = nn.Linear(4, 3)
    with pytest.raises(ValueError, match=message) as info:
        apply_mask(layer, "weight", bad)
    assert "weight" in str(info.value)


def test_bool_mask_and_masked_modules_listing():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    apply_masks(model, {"1.weight": torch.tensor([[True, False, True], [False, True, True]])})
    listed = [(full, name) for full, _, name in masked_modules(model)]
    assert listed == [("1.weight", "weight")]
    assert int(masks(model)["1.weight"].sum()) == 4


def test_removing_mask_from_a_deepcopy_leaves_the_original_working():
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    mask = _random_mask((3, 4), 0.5, seed=9)
    apply_mask(layer, "weight", mask)
    clone = copy.deepcopy(layer)
    remove_mask(clone, "weight")
    assert is_masked(layer, "weight") and not is_masked(clone, "weight")
    x = torch.randn(2, 4)
    assert torch.allclose(layer(x), clone(x))
    other = copy.deepcopy(layer)
    apply_mask(other, "bias", torch.tensor([1.0, 0.0, 1.0]))
    assert not is_masked(layer, "bias")
    assert torch.equal(layer.bias, original(layer, "bias"))  # the original's bias is untouched
