"""Genotype validation, serialisation, hashing, rendering and shape rules."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenstruct.errors import GraphError
from hiddenstruct.nas import INTERIOR_OPS, OPS, Genotype, Vertex, compile
from hiddenstruct.nas.shapes import infer_shapes


def _diamond() -> Genotype:
    # input -> conv3x3(4) -> sum <- max_pool <- input ; sum -> output
    return Genotype(
        (
            Vertex("input"),
            Vertex("conv3x3", 4),
            Vertex("max_pool"),
            Vertex("sum"),
            Vertex("output"),
        ),
        ((0, 1), (0, 2), (1, 3), (2, 3), (3, 4)),
    )


def test_json_round_trip_and_stable_hash():
    g = _diamond()
    again = Genotype.from_json(g.to_json())
    assert again == g
    assert again.hash == g.hash
    assert len(g.hash) == 64
    # edge order in the input does not change identity
    shuffled = Genotype(g.vertices, tuple(reversed(g.edges)))
    assert shuffled.hash == g.hash
    changed = Genotype(g.vertices[:1] + (Vertex("conv3x3", 8),) + g.vertices[2:], g.edges)
    assert changed.hash != g.hash


def test_structure_properties():
    g = _diamond()
    assert g.input == 0 and g.output == 4
    assert g.predecessors[3] == (1, 2)
    assert g.layer_index == (0, 1, 1, 2, 3)
    assert g.depth == 4
    assert Genotype.chain(["skip"]).depth == 3


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (
            {
                "vertices": [
                    {"op": "input"},
                    {"op": "conv3x3", "channels": 4},
                    {"op": "sum"},
                    {"op": "output"},
                ],
                "edges": [[0, 1], [1, 2], [2, 1], [2, 3]],
            },
            "cycle",
        ),
        (
            {
                "vertices": [
                    {"op": "input"},
                    {"op": "conv3x3", "channels": 4},
                    {"op": "skip"},
                    {"op": "output"},
                ],
                "edges": [[0, 1], [1, 3]],
            },
            "vertex 2",
        ),
        (
            {
                "vertices": [
                    {"op": "input"},
                    {"op": "conv3x3", "channels": 4},
                    {"op": "skip"},
                    {"op": "output"},
                ],
                "edges": [[0, 1], [1, 3], [0, 2]],
            },
            "vertex 2",
        ),
        (
            {
                "vertices": [{"op": "input"}, {"op": "conv9x9", "channels": 4}, {"op": "output"}],
                "edges": [[0, 1], [1, 2]],
            },
            "conv9x9",
        ),
        (
            {
                "vertices": [{"op": "input"}, {"op": "conv3x3", "channels": 0}, {"op": "output"}],
                "edges": [[0, 1], [1, 2]],
            },
            "vertex 1",
        ),
        (
            {
                "vertices": [{"op": "input"}, {"op": "conv3x3"}, {"op": "output"}],
                "edges": [[0, 1], [1, 2]],
            },
            "channels",
        ),
        (
            {
                "vertices": [{"op": "input"}, {"op": "max_pool", "channels": 3}, {"op": "output"}],
                "edges": [[0, 1], [1, 2]],
            },
            "vertex 1",
        ),
        ({"vertices": [{"op": "input"}, {"op": "output"}], "edges": [[0, 5]]}, "(0, 5)"),
        ({"vertices": [{"op": "input"}, {"op": "output"}], "edges": [[1, 1], [0, 1]]}, "self-loop"),
        (
            {
                "vertices": [{"op": "input"}, {"op": "input"}, {"op": "output"}],
                "edges": [[0, 2], [1, 2]],
            },
            "input",
        ),
        ({"vertices": [{"op": "input"}, {"op": "output"}]}, "edges"),
    ],
)
def test_bad_genotype_json_names_the_problem(data, needle):
    with pytest.raises(GraphError) as info:
        Genotype.from_json(json.dumps(data))
    assert needle in str(info.value)


def test_not_json_at_all():
    with pytest.raises(GraphError, match="not valid JSON"):
        Genotype.from_json("{vertices: oops")


def test_renderings_mention_every_vertex_and_edge():
    g = _diamond()
    text = g.render_text()
    assert len(text.splitlines()) == len(g.vertices)
    dot = g.to_dot()
    assert dot.count("->") == len(g.edges)
    assert all(f"v{u} -> v{v}" in dot for u, v in g.edges)


def test_shape_rules_on_hand_made_genotype():
    # input(3x8x8) -> conv3x3(4) [4x8x8]; -> max_pool [3x4x4]; sum aligns to 4x4 and max channels 4
    g = _diamond()
    shapes = infer_shapes(g, (3, 8, 8))
    assert [(s.channels, s.height, s.width) for s in shapes] == [
        (3, 8, 8),
        (4, 8, 8),
        (3, 4, 4),
        (4, 4, 4),
        (4, 4, 4),
    ]
    net = compile(g, (3, 8, 8), num_classes=5)
    assert net(torch.zeros(2, 3, 8, 8)).shape == (2, 5)


def test_pools_never_go_below_one_pixel_and_concat_adds_channels():
    g = Genotype(
        (
            Vertex("input"),
            *[Vertex("max_pool")] * 4,
            Vertex("conv5x5", 2),
            Vertex("concat"),
            Vertex("output"),
        ),
        ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (4, 6), (5, 6), (6, 7)),
    )
    shapes = infer_shapes(g, (1, 4, 4))
    assert [(s.height, s.width) for s in shapes[1:5]] == [(2, 2), (1, 1), (1, 1), (1, 1)]
    assert shapes[6].channels == 1 + 2
    net = compile(g, (1, 4, 4), num_classes=3)
    assert net(torch.randn(2, 1, 4, 4)).shape == (2, 3)


@st.composite
def arbitrary_genotypes(draw):
    """Any DAG over interior vertices (edges i -> j for i < j), completed to a valid genotype."""
    n = draw(st.integers(1, 8))
    ops = draw(st.lists(st.sampled_from(INTERIOR_OPS), min_size=n, max_size=n))
    channels = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), max_size=12)) if pairs else []
    vertices = [Vertex("input")]
    vertices += [
        Vertex(op, c if OPS[op].has_channels else None) for op, c in zip(ops, channels, strict=True)
    ]
    vertices.append(Vertex("output"))
    edges = {(i + 1, j + 1) for i, j in chosen}
    for v in range(1, n + 1):
        if not any(b == v for _, b in edges):
            edges.add((0, v))
        if not any(a == v for a, _ in edges):
            edges.add((v, n + 1))
    if draw(st.booleans()):
        edges.add((0, n + 1))
    return Genotype(tuple(vertices), tuple(edges))


@settings(max_examples=40, deadline=None)
@given(
    g=arbitrary_genotypes(), shape=st.sampled_from([(1, 8, 8), (3, 5, 7), (2, 1, 1), (1, 16, 16)])
)
def test_every_valid_genotype_compiles_and_runs_forward(g, shape):
    net = compile(g, shape, num_classes=4, max_channels=5)
    out = net(torch.randn(2, *shape))
    assert out.shape == (2, 4)
    assert torch.isfinite(out).all()
    predicted = infer_shapes(g, shape, max_channels=5)[g.output]
    assert net.classifier.in_features == predicted.channels
