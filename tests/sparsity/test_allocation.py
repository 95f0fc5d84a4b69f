"""One apportionment of a budget over tensors and one top-k."""

from __future__ import annotations

import random

import pytest
import torch

from hiddenstruct.errors import UsageError
from hiddenstruct.pruning import Count, class_uniform
from hiddenstruct.sparsity import allocate_counts, layer_counts, lowest, select_top


def test_allocate_counts_sums_exactly_and_respects_capacity():
    rng = random.Random(0)
    for _ in range(500):
        n = rng.randint(1, 5)
        capacity = [rng.randint(0, 60) for _ in range(n)]
        shares = [rng.choice([0, 1, rng.random() * 10, rng.randint(1, 9)]) for _ in range(n)]
        total = rng.randint(0, sum(capacity))
        counts = allocate_counts(shares, total, capacity)
        assert sum(counts) == total
        assert all(0 <= c <= cap for c, cap in zip(counts, capacity, strict=True))


def test_integer_shares_are_proportional_with_ties_to_the_first_tensor():
    assert allocate_counts([15, 29], 22, [15, 29]) == [8, 14]  # quotas 7.5 / 14.5
    assert allocate_counts([1, 1, 1], 2, [1, 1, 1]) == [1, 1, 0]
    with pytest.raises(UsageError, match="cannot place"):
        allocate_counts([1], 3, [2])


def test_class_uniform_uses_the_same_apportionment():
    masks = {"a": torch.ones(15, dtype=torch.bool), "b": torch.ones(29, dtype=torch.bool)}
    scores = {n: torch.arange(m.numel(), dtype=torch.float64) for n, m in masks.items()}
    after = class_uniform(scores, masks, Count(22))
    pruned = [int((~after[n]).sum()) for n in masks]
    assert pruned == allocate_counts([15, 29], 22, [15, 29])


def test_erdos_renyi_gives_small_layers_a_higher_density():
    big, small = layer_counts([torch.Size([300, 784]), torch.Size([10, 300])], 0.1, "erdos_renyi")
    assert big + small == round(0.1 * (300 * 784 + 10 * 300))
    assert small / 3000 > big / (300 * 784)


def test_lowest_breaks_ties_by_position_and_select_top_stays_in_the_allowed_set():
    values = torch.tensor([2.0, 1.0, 1.0, 0.0, 1.0])
    assert sorted(lowest(values, 3).tolist()) == [1, 2, 3]
    with pytest.raises(ValueError, match="NaN"):
        lowest(torch.tensor([float("nan")]), 1)
    allowed = torch.tensor([True, False, True, True, False])
    top = select_top(values, allowed, 2)
    assert top.tolist() == [True, False, True, False, False]
    assert not torch.any(top & ~allowed)
