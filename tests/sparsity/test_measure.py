"""ξ (nonzero_fraction), zero_fraction, grouped ξ(f) and the per-layer report."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from torch import nn

from hiddenstruct.nn import GraphNet, MaskedDeepFFN, apply_mask
from hiddenstruct.sparsity import (
    grouped_nonzero_fraction,
    nonzero_fraction,
    sparsity_report,
    zero_fraction,
)


def test_tensor_fractions():
    x = torch.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]])
    assert nonzero_fraction(x) == pytest.approx(3 / 6)
    assert zero_fraction(x) == pytest.approx(3 / 6)
    assert nonzero_fraction(torch.zeros(0)) == 0.0


def test_module_fraction_counts_masked_weights_only_not_biases():
    torch.manual_seed(0)
    model = MaskedDeepFFN(4, 2, [3])
    apply_mask(model.layers[0], "weight", torch.tensor([[1.0, 0, 0, 0]] * 3))
    apply_mask(model.layers[1], "weight", torch.tensor([[1.0, 1, 1], [0, 0, 0]]))
    assert nonzero_fraction(model) == pytest.approx((3 + 3) / (12 + 6))
    assert zero_fraction(model) == pytest.approx(1 - 6 / 18)


def test_grouped_fraction_averages_incoming_vectors():
    model = nn.Sequential(nn.Linear(4, 2), nn.Linear(2, 2))
    apply_mask(model[0], "weight", torch.tensor([[1.0, 1, 1, 1], [1.0, 0, 0, 0]]))
    apply_mask(model[1], "weight", torch.tensor([[1.0, 0], [0, 0]]))
    # rows: 1, 1/4, 1/2, 0  → mean 0.4375; the plain global fraction differs (6/12)
    assert grouped_nonzero_fraction(model) == pytest.approx((1 + 0.25 + 0.5 + 0) / 4)
    assert nonzero_fraction(model) == pytest.approx(6 / 12)


def test_graphnet_edge_vector_is_one_group():
    torch.manual_seed(0)
    net = GraphNet(nx.path_graph(5), 2, 1)
    apply_mask(net.edges, "weight", torch.tensor([1.0, 0, 0, 0]))
    frac = grouped_nonzero_fraction(net)
    # groups: 1 input row (full), edge vector (1/4), 1 readout row (full)
    assert frac == pytest.approx((1 + 0.25 + 1) / 3)


def test_report_rows_and_totals():
    torch.manual_seed(0)
    model = MaskedDeepFFN(5, 2, [4])
    g = torch.Generator().manual_seed(1)
    chosen = (torch.rand(4, 5, generator=g) < 0.5).float()
    apply_mask(model.layers[0], "weight", chosen)
    report = sparsity_report(model)
    rows = report.to_rows()
    assert [r["layer"] for r in rows] == ["layers.0.weight", "layers.1.weight"]
    assert rows[0]["weights"] == 20 and rows[0]["nonzeros"] == int(chosen.sum())
    assert report.weights == 28 and report.nonzeros == int(chosen.sum()) + 8
    assert report.nonzero_fraction == pytest.approx(nonzero_fraction(model))
    table = str(report)
    assert len(table.splitlines()) == 1 + len(rows) + 1
