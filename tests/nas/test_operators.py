"""Operators return valid, compilable genotypes and do what they say on hand-made parents."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenstruct.errors import UsageError
from hiddenstruct.nas import (
    CROSSOVERS,
    MUTATIONS,
    Genotype,
    SearchSpace,
    Vertex,
    compile,
    crossover_bridge,
    crossover_longest_path,
    crossover_matching_layers,
    mutate_insert,
    mutate_remap,
    random_genotype,
)
from hiddenstruct.nas.operators import bridges, longest_path

TINY = SearchSpace(channel_choices=(1, 2))


def _assert_valid(g: Genotype) -> None:
    G = g.to_networkx()
    assert nx.is_directed_acyclic_graph(G)
    sources = [v for v in G if G.in_degree(v) == 0]
    sinks = [v for v in G if G.out_degree(v) == 0]
    assert sources == [g.input] and sinks == [g.output]
    assert g.vertices[g.input].op == "input" and g.vertices[g.output].op == "output"
    assert nx.descendants(G, g.input) | {g.input} == set(G)
    assert nx.ancestors(G, g.output) | {g.output} == set(G)
    assert Genotype.from_json(g.to_json()) == g


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    operator=st.sampled_from(sorted(MUTATIONS) + sorted(CROSSOVERS)),
    forward=st.booleans(),
)
def test_operators_always_give_valid_compilable_genotypes(seed, operator, forward):
    rng = np.random.default_rng(seed)
    a = random_genotype(rng, 3, 7, TINY)
    b = random_genotype(rng, 3, 7, TINY)
    for g in (a, b):
        _assert_valid(g)
    if operator in MUTATIONS:
        children = [MUTATIONS[operator](a, rng, TINY)]
    else:
        children = list(CROSSOVERS[operator](a, b, rng))
    for child in children:
        _assert_valid(child)
        net = compile(child, (1, 6, 6), num_classes=2)
        if forward:
            net.eval()
            with torch.no_grad():
                assert net(torch.randn(1, 1, 6, 6)).shape == (1, 2)


@pytest.mark.parametrize("depth", [(3, 3), (6, 12), (10, 36)])
def test_random_genotype_depth_in_range(depth):
    rng = np.random.default_rng(1)
    for _ in range(15):
        g = random_genotype(rng, *depth)
        assert depth[0] <= g.depth <= depth[1]


def test_random_genotype_reproducible_and_rejects_bad_range():
    assert random_genotype(7, 6, 12) == random_genotype(7, 6, 12)
    with pytest.raises(UsageError):
        random_genotype(0, 8, 6)
    with pytest.raises(UsageError):
        random_genotype(0, 2, 6)


def test_remap_changes_exactly_one_operation():
    g = Genotype.chain(["conv3x3", "max_pool", "sum", "skip"], 4)
    for seed in range(20):
        child = mutate_remap(g, seed)
        assert child.edges == g.edges
        diff = [v for v in range(len(g.vertices)) if g.vertices[v].op != child.vertices[v].op]
        assert len(diff) == 1 and diff[0] in g.interior


def test_insert_splits_an_edge_with_a_deep_enough_subgraph():
    g = Genotype.chain(["conv3x3", "max_pool"], 4)  # depth 4, edges 3
    space = SearchSpace(insert_depth=(2, 2), max_width=1)
    for seed in range(10):
        child = mutate_insert(g, seed, space)
        assert len(child.vertices) == len(g.vertices) + 2
        assert child.depth == g.depth + 2
        # every original operation survives, in the same order along the chain
        ops = [child.vertices[v].op for v in longest_path(child)]
        original = [v.op for v in g.vertices]
        it = iter(ops)
        assert all(op in it for op in original)


def test_bridge_crossover_on_two_chains_swaps_tails():
    a = Genotype.chain(["conv3x3", "conv3x3", "conv3x3"], 4)
    b = Genotype.chain(["max_pool", "avg_pool", "skip", "sum", "max_pool"], 4)
    assert len(bridges(a)) == len(a.edges)  # every chain edge is a bridge
    for seed in range(10):
        c, d = crossover_bridge(a, b, seed)
        # children are chains again, made of a head of one parent and a tail of the other
        assert all(len(c.successors[v]) <= 1 for v in range(len(c.vertices)))
        assert len(c.vertices) + len(d.vertices) == len(a.vertices) + len(b.vertices)
        ops_c = [c.vertices[v].op for v in longest_path(c)][1:-1]
        ops_d = [d.vertices[v].op for v in longest_path(d)][1:-1]
        k = next((i for i, op in enumerate(ops_c) if op != "conv3x3"), len(ops_c))
        assert ops_c[k:] == [v.op for v in b.vertices[-1 - len(ops_c[k:]) : -1]]
        assert sorted(ops_c + ops_d) == sorted([v.op for v in a.vertices[1:-1] + b.vertices[1:-1]])


def test_bridge_crossover_without_bridges_returns_parents():
    # input -> {x, y} -> output: no bridge at all
    diamond = Genotype(
        (Vertex("input"), Vertex("skip"), Vertex("skip"), Vertex("output")),
        ((0, 1), (0, 2), (1, 3), (2, 3)),
    )
    assert bridges(diamond) == []
    chain = Genotype.chain(["conv3x3"], 4)
    assert crossover_bridge(diamond, chain, 0) == (diamond, chain)


def test_longest_path_crossover_swaps_paths_of_chains():
    a = Genotype.chain(["conv3x3", "conv5x5"], 4)
    b = Genotype.chain(["max_pool", "avg_pool", "skip"], 4)
    c, d = crossover_longest_path(a, b, 0)
    assert [v.op for v in c.vertices] == [v.op for v in b.vertices]
    assert [v.op for v in d.vertices] == [v.op for v in a.vertices]


def test_longest_path_crossover_keeps_side_branches():
    # a: input -> c3 -> c5 -> c7 -> output with a side branch input -> skip -> output
    a = Genotype(
        (
            Vertex("input"),
            Vertex("conv3x3", 4),
            Vertex("conv5x5", 4),
            Vertex("conv7x7", 4),
            Vertex("skip"),
            Vertex("output"),
        ),
        ((0, 1), (1, 2), (2, 3), (3, 5), (0, 4), (4, 5)),
    )
    b = Genotype.chain(["max_pool"], 4)
    c, _ = crossover_longest_path(a, b, 0)
    assert sorted(v.op for v in c.vertices) == sorted(["input", "max_pool", "skip", "output"])
    assert c.depth == 3


def test_matching_layers_averages_channels():
    a = Genotype.chain(["conv3x3", "max_pool", "conv3x3"], [8, 1, 10])
    b = Genotype.chain(["conv5x5", "conv3x3"], [16, 3])
    c, d = crossover_matching_layers(a, b, 0)
    # layer 1: (8 + 16) / 2 = 12; layer 2: only b's conv (3) -> 3; layer 3: only a's conv -> 10
    assert c.vertices[1].channels == 12 and d.vertices[1].channels == 12
    assert d.vertices[2].channels == 3
    assert c.vertices[3].channels == 10
    assert c.edges == a.edges and d.edges == b.edges
