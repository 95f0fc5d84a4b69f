"""Initial masks: exact total density, ERK vs uniform, plain torch models, schedules."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn import MaskedDeepFFN, MaskedRNN
from hiddenstruct.sparse_training import (
    allocate_counts,
    constant_fraction,
    cosine_fraction,
    get_update_schedule,
    init_sparse_masks,
    layer_counts,
    sparse_layers,
)


@pytest.mark.parametrize("distribution", ["uniform", "erdos_renyi"])
@pytest.mark.parametrize("density", [0.02, 0.05, 0.1, 0.5])
def test_initial_masks_hit_the_total_density_exactly(distribution, density):
    net = MaskedDeepFFN(784, 10, [300, 100])
    layers = init_sparse_masks(net, density, distribution, seed=1)
    total = sum(layer.numel for layer in layers)
    assert sum(layer.live for layer in layers) == round(density * total)
    for layer in layers:  # dead weights are zero underneath, so regrowth starts from 0
        assert torch.all(layer.weight[layer.mask == 0] == 0)


def test_erdos_renyi_densities_follow_sum_over_product_of_dims():
    shapes = [torch.Size([300, 784]), torch.Size([100, 300]), torch.Size([10, 100])]
    counts = layer_counts(shapes, 0.05, "erdos_renyi")
    densities = [c / math.prod(s) for c, s in zip(counts, shapes, strict=True)]
    raw = [sum(s) / math.prod(s) for s in shapes]
    # the ratio of the two unsaturated layers is that of their ER scores
    assert densities[1] / densities[0] == pytest.approx(raw[1] / raw[0], rel=1e-3)
    assert densities[0] < densities[1] < densities[2] <= 1.0
    uniform = layer_counts(shapes, 0.05, "uniform")
    assert [c / math.prod(s) for c, s in zip(uniform, shapes, strict=True)] == pytest.approx(
        [0.05] * 3, abs=1e-4
    )


def test_erdos_renyi_saturated_layers_become_dense():
    shapes = [torch.Size([1000, 1000]), torch.Size([2, 3])]
    counts = layer_counts(shapes, 0.3, "erdos_renyi")
    assert counts[1] == 6 and sum(counts) == round(0.3 * 1_000_006)


def test_allocate_counts_sums_exactly_and_respects_capacity():
    counts = allocate_counts([1.0, 1.0, 1.0], 10, [100, 100, 2])
    assert sum(counts) == 10 and counts[2] <= 2 and counts[0] + counts[1] == 8
    with pytest.raises(UsageError, match="cannot place"):
        allocate_counts([1.0], 5, [4])


def test_unknown_distribution_lists_valid_ones():
    with pytest.raises(UsageError, match="erdos_renyi"):
        layer_counts([torch.Size([2, 2])], 0.5, "lognormal")


def test_same_seed_same_masks_and_other_seed_differs():
    def masks(seed):
        net = MaskedDeepFFN(20, 4, [16])
        return [layer.mask.clone() for layer in init_sparse_masks(net, 0.3, seed=seed)]

    assert all(torch.equal(a, b) for a, b in zip(masks(3), masks(3), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(masks(3), masks(4), strict=True))


def test_rnn_has_i2h_and_h2h_layers_with_all_gates():
    rnn = MaskedRNN(5, [7, 6], "gru")
    names = [layer.name for layer in sparse_layers(rnn)]
    assert names == [
        "layers.0.weight_ih",
        "layers.0.weight_hh",
        "layers.1.weight_ih",
        "layers.1.weight_hh",
    ]
    assert sparse_layers(rnn)[0].mask.shape == (3 * 7, 5)


def test_plain_torch_model_gets_masks_on_linear_and_conv():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    layers = init_sparse_masks(model, 0.2, "erdos_renyi", seed=0)
    assert [layer.name for layer in layers] == ["0.weight", "2.weight"]
    out = model(torch.randn(2, 1, 8, 8))
    assert out.shape == (2, 3)


def test_density_out_of_range_is_a_usage_error():
    with pytest.raises(UsageError, match="density"):
        init_sparse_masks(MaskedDeepFFN(4, 2, [3]), 0.0)


def test_schedules_are_pure_functions_of_the_step():
    assert cosine_fraction(0, 0.3, 100) == pytest.approx(0.3)
    assert cosine_fraction(50, 0.3, 100) == pytest.approx(0.15)
    assert cosine_fraction(100, 0.3, 100) == 0.0
    assert constant_fraction(10**6, 0.3, None) == 0.3
    assert constant_fraction(5, 0.3, 5) == 0.0
    with pytest.raises(UsageError, match="stop step"):
        cosine_fraction(1, 0.3, None)
    with pytest.raises(UsageError, match="cosine"):
        get_update_schedule("linear")
