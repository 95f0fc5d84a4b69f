"""Cell-DAG networks: one convolutional cell per DAG vertex, inputs aggregated."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs import to_graph
from hiddenstruct.nn import CellDAGNet


def _dag(seed=0, n=7):
    G = nx.connected_watts_strogatz_graph(n, 4, 0.4, seed=seed)
    return nx.DiGraph([(min(u, v), max(u, v)) for u, v in G.edges])


@pytest.mark.parametrize("aggregate", ["sum", "concat"])
def test_forward_backward_and_the_graph_equals_the_dag(aggregate):
    dag = _dag()
    net = CellDAGNet(dag, in_channels=3, num_classes=5, channels=4, aggregate=aggregate)
    x = torch.randn(2, 3, 12, 12)
    out = net(x)
    assert out.shape == (2, 5)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    G = to_graph(net, hidden_only=True)
    assert set(G.nodes) == set(dag.nodes) and set(G.edges) == set(dag.edges)
    full = to_graph(net)
    sources = {v for v in dag if dag.in_degree(v) == 0}
    sinks = {v for v in dag if dag.out_degree(v) == 0}
    assert set(full.successors(("in", 0))) == sources
    assert set(full.predecessors(("out", 0))) == sinks


def test_cells_get_the_aggregated_channel_counts():
    dag = nx.DiGraph([("a", "c"), ("b", "c"), ("c", "d"), ("a", "d")])
    seen = {}

    def cell(cin, cout):
        module = nn.Conv2d(cin, cout, 1)
        seen.setdefault(cin, 0)
        seen[cin] += 1
        return module

    CellDAGNet(dag, 3, 2, channels=5, cell=cell, aggregate="concat")
    assert seen == {3: 2, 10: 2}  # sources read the input; c and d read 2 × 5 channels
    seen.clear()
    net = CellDAGNet(dag, 3, 2, channels=5, cell=cell, aggregate="sum")
    assert seen == {3: 2, 5: 2}
    assert net.edge_logits.shape == (4,)


def test_sum_is_a_gated_sum_of_the_predecessors():
    """With identity-like cells the aggregation is visible: sigmoid(w) weights per edge."""
    dag = nx.DiGraph([(0, 2), (1, 2)])
    net = CellDAGNet(dag, 2, 2, channels=2, cell=lambda cin, cout: nn.Identity())
    with torch.no_grad():
        net.edge_logits.copy_(torch.tensor([0.0, 2.0]))
    x = torch.randn(1, 2, 3, 3)
    # vertex 2 = σ(0)·x + σ(2)·x; the only sink is 2; head = mean over positions
    gate = 0.5 + torch.sigmoid(torch.tensor(2.0))
    expected = net.classifier((gate * x).mean((2, 3)))
    torch.testing.assert_close(net(x), expected)


def test_concat_zero_pads_cells_that_shrink_the_map():
    dag = nx.DiGraph([(0, 1), (0, 2), (1, 3), (2, 3)])

    def cell(cin, cout):
        return nn.Conv2d(cin, cout, 3, stride=2 if cin == 3 else 1, padding=1)

    net = CellDAGNet(dag, 3, 4, channels=3, cell=cell, aggregate="concat")
    assert net(torch.randn(2, 3, 9, 9)).shape == (2, 4)
    strided = CellDAGNet(
        nx.DiGraph([(0, 2), (1, 2), (0, 1)]),
        3,
        4,
        channels=3,
        cell=lambda cin, cout: nn.Conv2d(cin, cout, 3, stride=2, padding=1),
        aggregate="sum",
    )
    with pytest.raises(UsageError, match="spatial sizes"):
        strided(torch.randn(1, 3, 16, 16))


def test_bad_cells_and_inputs_are_named():
    dag = nx.DiGraph([(0, 1)])
    net = CellDAGNet(dag, 3, 2, channels=4, cell=lambda cin, cout: nn.Conv2d(cin, cout + 1, 1))
    with pytest.raises(UsageError, match="cell of vertex 0 returned shape"):
        net(torch.randn(1, 3, 4, 4))
    with pytest.raises(UsageError, match=r"expected images \[batch, 3"):
        CellDAGNet(dag, 3, 2)(torch.randn(1, 4, 4, 4))
    with pytest.raises(UsageError, match="aggregate"):
        CellDAGNet(dag, 3, 2, aggregate="max")
