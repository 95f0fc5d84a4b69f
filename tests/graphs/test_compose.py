"""DAG composition: the first graph's sinks feed the second graph's sources."""

from __future__ import annotations

import networkx as nx
import pytest

from hiddenstruct.errors import GraphError, UsageError
from hiddenstruct.graphs import compose, layers, to_dag
from hiddenstruct.nn import GraphNet


def _ws(n, seed):
    return nx.connected_watts_strogatz_graph(n, 4, 0.3, seed=seed)


def test_complete_rule_stacks_the_layers():
    first, second = _ws(12, 0), _ws(9, 1)
    G = compose(first, second)
    d1, d2 = to_dag(first), to_dag(second)
    sinks = [v for v in d1 if d1.out_degree(v) == 0]
    sources = [v for v in d2 if d2.in_degree(v) == 0]
    assert G.number_of_nodes() == 21
    assert G.number_of_edges() == d1.number_of_edges() + d2.number_of_edges() + len(sinks) * len(
        sources
    )
    assert nx.is_directed_acyclic_graph(G)
    # layer counts add up, and each part keeps its own edges under the new labels
    assert len(layers(G)) == len(layers(d1)) + len(layers(d2))
    for part, D in enumerate((d1, d2)):
        kept = G.subgraph(v for v, p in G.nodes(data="part") if p == part)
        back = nx.relabel_nodes(nx.DiGraph(kept), {v: G.nodes[v]["origin"] for v in kept})
        assert set(back.edges) == set(D.edges) and set(back.nodes) == set(D.nodes)
    # every sink of the first feeds every source of the second
    new = {(G.nodes[u]["origin"], G.nodes[v]["origin"]) for u, v in G.edges
           if G.nodes[u]["part"] == 0 and G.nodes[v]["part"] == 1}  # fmt: skip
    assert new == {(s, t) for s in sinks for t in sources}


def test_one_to_one_rule_and_its_errors():
    first = nx.DiGraph([(0, 2), (1, 3)])  # sinks 2, 3
    second = nx.DiGraph([("a", "c"), ("b", "c")])  # sources a, b
    G = compose(first, second, connect="one_to_one")
    # labels follow node order: 0→0, 2→1, 1→2, 3→3 | a→4, c→5, b→6; sink i feeds source i
    assert sorted(G.edges) == [(0, 1), (1, 4), (2, 3), (3, 6), (4, 5), (6, 5)]
    with pytest.raises(GraphError, match="as many sinks"):
        compose(first, nx.DiGraph([("a", "b")]), connect="one_to_one")
    with pytest.raises(UsageError, match="complete, one_to_one"):
        compose(first, second, connect="dense")
    with pytest.raises(GraphError, match="cycle"):
        compose(nx.DiGraph([(0, 1), (1, 0)]), second)


def test_the_composition_builds_a_graphnet():
    G = compose(_ws(10, 2), _ws(10, 3))
    net = GraphNet(G, 6, 2)
    assert net.edges.weight.numel() == G.number_of_edges()
    assert net.num_layers == len(layers(G))
