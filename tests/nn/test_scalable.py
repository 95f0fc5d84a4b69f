"""Scalable families (ScalableDAN): a theme DAG grown to any width by proportions."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from hiddenstruct.errors import GraphError, UsageError
from hiddenstruct.graphs import layers
from hiddenstruct.nn import GraphNet, ScalableDAN, graphnet_parameter_count

THEME = nx.DiGraph(
    [(0, 3), (0, 5), (1, 3), (1, 4), (1, 5), (2, 3), (2, 4), (3, 5), (3, 6), (4, 5), (4, 7), (5, 7)]
)


def _family():
    weights = {v: 1.0 + (v % 3) for v in THEME}  # unnormalised on purpose
    return ScalableDAN(THEME, weights)


@pytest.mark.parametrize("width", [1, 8, 40, 333])
def test_grown_graph_keeps_the_theme_at_every_width(width):
    family = _family()
    sizes = family.sizes(width)
    G = family.grow(width)
    total = sum(family.proportions.values())
    assert total == pytest.approx(1.0)
    assert all(sizes[v] == max(1, round(family.proportions[v] * width)) for v in THEME)
    assert G.number_of_nodes() == sum(sizes.values())
    assert G.number_of_edges() == sum(sizes[u] * sizes[v] for u, v in THEME.edges)
    # collapsing every group back to its theme vertex gives the theme again
    theme_of = nx.get_node_attributes(G, "theme")
    assert {(theme_of[u], theme_of[v]) for u, v in G.edges} == set(THEME.edges)
    assert len(layers(G)) == len(layers(THEME))


def test_build_gives_a_graphnet_of_the_grown_graph():
    family = _family()
    net = family.build(50, input_size=12, output_size=3, seed=None)
    G = family.grow(50)
    assert isinstance(net, GraphNet)
    assert set(net.structure_graph(include_io=False).edges) == set(G.edges)
    layer0 = len(layers(G)[0])
    last = len(layers(G)[-1])
    expected = graphnet_parameter_count(
        G.number_of_edges(), G.number_of_nodes(), layer0, last, 12, 3
    )
    assert sum(p.numel() for p in net.parameters()) == expected
    assert net(torch.randn(4, 12)).shape == (4, 3)


def test_bad_families_are_refused():
    with pytest.raises(GraphError, match="missing"):
        ScalableDAN(THEME, {0: 1.0})
    with pytest.raises(UsageError, match="positive"):
        ScalableDAN(THEME, {v: (0.0 if v == 2 else 1.0) for v in THEME})
    with pytest.raises(UsageError, match="width"):
        _family().grow(0)
    with pytest.raises(GraphError, match="cycle"):
        ScalableDAN(nx.DiGraph([(0, 1), (1, 0)]))
    assert ScalableDAN(THEME).proportions[0] == pytest.approx(1 / 8)
