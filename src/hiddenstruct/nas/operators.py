"""Genetic operators and random sampling: pure functions of (genotype(s), rng) → valid genotypes.

``rng`` is a :class:`numpy.random.Generator` (an ``int`` seed is accepted too). Every result is
renumbered in topological order (input = 0, output = n-1) and validated by construction.

- :func:`mutate_remap` — change one interior vertex's operation.
- :func:`mutate_insert` — insert a random sub-graph (depth ≥ 2) into a random edge.
- :func:`crossover_longest_path` — swap the longest input→output paths of two parents.
- :func:`crossover_bridge` — cut both parents at a bridge and swap what follows.
- :func:`crossover_matching_layers` — average conv channel counts of matching layers.
- :func:`random_genotype` — a random layered genotype with depth in a range.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from hiddenstruct.errors import UsageError
from hiddenstruct.nas.genotype import Genotype, Vertex
from hiddenstruct.nas.ops import INTERIOR_OPS, OPS

Rng = np.random.Generator


@dataclass(frozen=True)
class SearchSpace:
    """What random vertices and sub-graphs may look like."""

    ops: tuple[str, ...] = INTERIOR_OPS  # operations of interior vertices
    channel_choices: tuple[int, ...] = (8, 16, 32)  # conv channel counts to sample from
    max_width: int = 3  # most vertices per layer in sampled graphs
    skip_probability: float = 0.2  # chance of an extra edge from an earlier layer per vertex
    insert_depth: tuple[int, int] = (2, 3)  # depth range of sub-graphs inserted by mutate_insert

    def __post_init__(self) -> None:
        bad = [op for op in self.ops if op not in INTERIOR_OPS]
        if bad or not self.ops:
            raise UsageError(
                f"search space ops must be a non-empty subset of {', '.join(INTERIOR_OPS)}; got {bad or 'none'}"
            )
        if not self.channel_choices or any(int(c) <= 0 for c in self.channel_choices):
            raise UsageError(
                f"channel_choices must be positive integers, got {self.channel_choices!r}"
            )
        if self.max_width < 1:
            raise UsageError(f"max_width must be ≥ 1, got {self.max_width}")
        if not 0.0 <= self.skip_probability <= 1.0:
            raise UsageError(f"skip_probability must lie in [0, 1], got {self.skip_probability}")
        low, high = self.insert_depth
        if not 2 <= low <= high:
            raise UsageError(
                f"insert_depth must be a range (low, high) with 2 ≤ low ≤ high, got {self.insert_depth!r}"
            )


DEFAULT_SPACE = SearchSpace()


def as_rng(rng: Rng | int) -> Rng:
    """A numpy Generator from a Generator or an integer seed."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def random_vertex(rng: Rng, space: SearchSpace = DEFAULT_SPACE) -> Vertex:
    """A random interior vertex (conv channels drawn from ``space.channel_choices``)."""
    op = space.ops[int(rng.integers(len(space.ops)))]
    channels = (
        int(space.channel_choices[int(rng.integers(len(space.channel_choices)))])
        if OPS[op].has_channels
        else None
    )
    return Vertex(op, channels)


def _layered_dag(
    rng: Rng, depth: int, space: SearchSpace, first: Vertex, last: Vertex
) -> tuple[list[Vertex], list[tuple[int, int]]]:
    """A random DAG with exactly ``depth`` layers, one vertex in the first and last layer."""
    layers: list[list[int]] = [[0]]
    vertices = [first]
    edges: set[tuple[int, int]] = set()
    for level in range(1, depth):
        width = 1 if level == depth - 1 else int(rng.integers(1, space.max_width + 1))
        layer = []
        for _ in range(width):
            v = len(vertices)
            vertices.append(last if level == depth - 1 else random_vertex(rng, space))
            previous = layers[-1]
            edges.add((previous[int(rng.integers(len(previous)))], v))  # fixes ind(v) = level
            earlier = [u for lay in layers[:-1] for u in lay]
            if earlier and rng.random() < space.skip_probability:
                edges.add((earlier[int(rng.integers(len(earlier)))], v))
            layer.append(v)
        layers.append(layer)
    for level in range(depth - 1):  # every vertex needs a successor in the next layer
        for u in layers[level]:
            if not any(a == u for a, _ in edges):
                nxt = layers[level + 1]
                edges.add((u, nxt[int(rng.integers(len(nxt)))]))
    return vertices, sorted(edges)


def random_genotype(
    rng: Rng | int, min_depth: int = 6, max_depth: int = 12, space: SearchSpace = DEFAULT_SPACE
) -> Genotype:
    """A random genotype whose depth (layers, input and output included) lies in [min_depth, max_depth]."""
    if not 3 <= min_depth <= max_depth:
        raise UsageError(
            f"depth range must satisfy 3 ≤ min_depth ≤ max_depth, got {min_depth}..{max_depth}"
        )
    rng = as_rng(rng)
    depth = int(rng.integers(min_depth, max_depth + 1))
    vertices, edges = _layered_dag(rng, depth, space, Vertex("input"), Vertex("output"))
    return Genotype.from_parts(vertices, edges)


# ------------------------------------------------------------------ mutations
def mutate_remap(
    genotype: Genotype, rng: Rng | int, space: SearchSpace = DEFAULT_SPACE
) -> Genotype:
    """Give one random interior vertex a different operation (unchanged if there is none)."""
    rng = as_rng(rng)
    interior = genotype.interior
    if not interior:
        return genotype
    v = interior[int(rng.integers(len(interior)))]
    old = genotype.vertices[v]
    choices = [op for op in space.ops if op != old.op] or [old.op]
    op = choices[int(rng.integers(len(choices)))]
    if OPS[op].has_channels:
        channels = (
            old.channels
            if old.channels is not None
            else int(space.channel_choices[int(rng.integers(len(space.channel_choices)))])
        )
    else:
        channels = None
    vertices = list(genotype.vertices)
    vertices[v] = Vertex(op, channels)
    return Genotype.from_parts(vertices, genotype.edges)


def mutate_insert(
    genotype: Genotype, rng: Rng | int, space: SearchSpace = DEFAULT_SPACE
) -> Genotype:
    """Replace a random edge (u, v) by u → S → v for a random sub-graph S of depth in ``space.insert_depth``."""
    rng = as_rng(rng)
    u, v = genotype.edges[int(rng.integers(len(genotype.edges)))]
    low, high = space.insert_depth
    depth = int(rng.integers(low, high + 1))
    block, block_edges = _layered_dag(
        rng, depth, space, random_vertex(rng, space), random_vertex(rng, space)
    )
    offset = len(genotype.vertices)
    vertices = list(genotype.vertices) + block
    edges = [e for e in genotype.edges if e != (u, v)]
    edges += [(a + offset, b + offset) for a, b in block_edges]
    edges += [(u, offset), (offset + len(block) - 1, v)]
    return Genotype.from_parts(vertices, edges)


# ----------------------------------------------------------------- crossovers
def longest_path(genotype: Genotype, rng: Rng | int | None = None) -> list[int]:
    """A longest input→output path (ties broken at random with ``rng``, else by smallest id)."""
    to_sink = [0] * len(genotype.vertices)
    for v in reversed(genotype.topological_order):
        to_sink[v] = max((to_sink[w] + 1 for w in genotype.successors[v]), default=0)
    path = [genotype.input]
    rng = as_rng(rng) if rng is not None else None
    while path[-1] != genotype.output:
        v = path[-1]
        best = [w for w in genotype.successors[v] if to_sink[w] + 1 == to_sink[v]]
        path.append(best[int(rng.integers(len(best)))] if rng is not None else best[0])
    return path


def _repair(n: int, edges: list[tuple[int, int]], source: int, sink: int) -> list[tuple[int, int]]:
    """Connect every extra source from ``source`` and every extra sink to ``sink`` (keeps a DAG)."""
    has_in = {v for _, v in edges}
    has_out = {u for u, _ in edges}
    extra = [(source, v) for v in range(n) if v != source and v not in has_in]
    extra += [(u, sink) for u in range(n) if u != sink and u not in has_out]
    return edges + extra


def _add_acyclic(G: nx.DiGraph, u: int, v: int) -> None:
    if u != v and not G.has_edge(u, v) and not nx.has_path(G, v, u):
        G.add_edge(u, v)


def _replace_path(
    host: Genotype, host_path: Sequence[int], donor: Genotype, donor_path: Sequence[int]
) -> Genotype:
    """``host`` with the interior of ``host_path`` replaced by a copy of ``donor_path``'s vertices."""
    on_path = {v: i for i, v in enumerate(host_path)}
    keep = [v for v in range(len(host.vertices)) if v not in on_path]
    new_id = {v: i for i, v in enumerate(keep)}
    vertices = [host.vertices[v] for v in keep]
    chain = list(range(len(vertices), len(vertices) + len(donor_path)))
    vertices += [donor.vertices[v] for v in donor_path]
    m, n = len(host_path), len(donor_path)

    def mapped(v: int) -> int | None:
        if v in new_id:
            return new_id[v]
        return chain[on_path[v] * n // m] if n else None

    G = nx.DiGraph()
    G.add_nodes_from(range(len(vertices)))
    src, dst = new_id[host.input], new_id[host.output]
    if chain:
        G.add_edges_from(zip([src] + chain, chain + [dst], strict=True))
    for a, b in host.edges:
        ma, mb = mapped(a), mapped(b)
        if ma is not None and mb is not None:
            _add_acyclic(G, ma, mb)
    edges = _repair(len(vertices), list(G.edges), src, dst)
    return Genotype.from_parts(vertices, edges)


def crossover_longest_path(a: Genotype, b: Genotype, rng: Rng | int) -> tuple[Genotype, Genotype]:
    """Swap the interiors of a longest input→output path of each parent.

    The off-path edges of the host that touched its path are re-attached to the donor's
    path at proportional positions (edges that would close a cycle are dropped); vertices
    left without an input or output are connected to the input or output.
    """
    rng = as_rng(rng)
    pa, pb = longest_path(a, rng)[1:-1], longest_path(b, rng)[1:-1]
    return _replace_path(a, pa, b, pb), _replace_path(b, pb, a, pa)


def bridges(genotype: Genotype) -> list[tuple[int, int]]:
    """Directed edges whose removal disconnects the (undirected) genotype, sorted."""
    undirected = genotype.to_networkx().to_undirected()
    found = []
    for x, y in nx.bridges(undirected):
        found.append((x, y) if (x, y) in set(genotype.edges) else (y, x))
    return sorted(found)


def _split_at(genotype: Genotype, bridge: tuple[int, int]) -> tuple[set[int], set[int]]:
    """(head, tail): the vertices on the input side and on the output side of a bridge."""
    G = genotype.to_networkx().to_undirected()
    G.remove_edge(*bridge)
    head = nx.node_connected_component(G, bridge[0])
    return head, set(G.nodes) - head


def _join(
    head_g: Genotype, head: set[int], u: int, tail_g: Genotype, tail: set[int], v: int
) -> Genotype:
    h, t = sorted(head), sorted(tail)
    ids = {("h", x): i for i, x in enumerate(h)} | {("t", x): len(h) + i for i, x in enumerate(t)}
    vertices = [head_g.vertices[x] for x in h] + [tail_g.vertices[x] for x in t]
    edges = [(ids["h", x], ids["h", y]) for x, y in head_g.edges if x in head and y in head]
    edges += [(ids["t", x], ids["t", y]) for x, y in tail_g.edges if x in tail and y in tail]
    edges.append((ids["h", u], ids["t", v]))
    return Genotype.from_parts(vertices, edges)


def crossover_bridge(a: Genotype, b: Genotype, rng: Rng | int) -> tuple[Genotype, Genotype]:
    """Pick a bridge in each parent and exchange the parts after them (parents back if one has none)."""
    rng = as_rng(rng)
    ba, bb = bridges(a), bridges(b)
    if not ba or not bb:
        return a, b
    ea, eb = ba[int(rng.integers(len(ba)))], bb[int(rng.integers(len(bb)))]
    head_a, tail_a = _split_at(a, ea)
    head_b, tail_b = _split_at(b, eb)
    return _join(a, head_a, ea[0], b, tail_b, eb[1]), _join(b, head_b, eb[0], a, tail_a, ea[1])


def crossover_matching_layers(
    a: Genotype, b: Genotype, rng: Rng | int
) -> tuple[Genotype, Genotype]:
    """Set every conv of a layer present in both parents to the rounded mean channel count of
    all convs of that layer in both parents (structure unchanged; ``rng`` unused)."""
    means: dict[int, int] = {}
    for layer in set(a.layer_index) & set(b.layer_index):
        counts = [
            g.vertices[v].channels
            for g in (a, b)
            for v in range(len(g.vertices))
            if g.layer_index[v] == layer and g.vertices[v].channels is not None
        ]
        if counts:
            means[layer] = max(1, int(np.floor(np.mean(counts) + 0.5)))

    def child(g: Genotype) -> Genotype:
        vertices = [
            Vertex(x.op, means[g.layer_index[v]])
            if x.channels is not None and g.layer_index[v] in means
            else x
            for v, x in enumerate(g.vertices)
        ]
        return Genotype(tuple(vertices), g.edges)

    return child(a), child(b)


Mutation = Callable[..., Genotype]
Crossover = Callable[..., tuple[Genotype, Genotype]]

MUTATIONS: dict[str, Mutation] = {"remap": mutate_remap, "insert": mutate_insert}
CROSSOVERS: dict[str, Crossover] = {
    "longest_path": crossover_longest_path,
    "bridge": crossover_bridge,
    "matching_layers": crossover_matching_layers,
}

#: 0.1.0 behaviour: both mutations, equally likely. The paper's final choice (§4.4, "our
#: final choice of mutation operation that increases the depth") is ``{"insert": 1.0}``.
UNIFORM_MUTATIONS: tuple[tuple[str, float], ...] = (("insert", 1.0), ("remap", 1.0))
PAPER_MUTATIONS: tuple[tuple[str, float], ...] = (("insert", 1.0),)


def mutation_weights(
    spec: Mapping[str, float] | Sequence[tuple[str, float]] | str,
) -> tuple[tuple[str, float], ...]:
    """Normalise mutation weights to sorted ``(name, weight)`` pairs with weight > 0.

    ``spec``: ``{"insert": 1.0}``, pairs, or text ``"insert:3,remap:1"`` (a bare name
    means weight 1). Unknown names, negative or non-finite weights, and all-zero weights
    raise :class:`UsageError` naming the valid mutations.
    """
    if isinstance(spec, str):
        pairs = []
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, _, weight = item.partition(":")
            try:
                pairs.append((name.strip(), float(weight) if weight else 1.0))
            except ValueError:
                raise UsageError(
                    f"mutation weight {weight!r} of {name!r} is not a number (e.g. insert:1,remap:1)"
                ) from None
    else:
        pairs = list(spec.items()) if isinstance(spec, Mapping) else [tuple(p) for p in spec]
    valid = ", ".join(sorted(MUTATIONS))
    names = [name for name, _ in pairs]
    unknown = sorted({n for n in names if n not in MUTATIONS})
    if unknown or len(set(names)) != len(names):
        raise UsageError(f"unknown or repeated mutation(s) {unknown or names}; valid: {valid}")
    if any(not np.isfinite(float(w)) or float(w) < 0 for _, w in pairs):
        raise UsageError(f"mutation weights must be finite and >= 0, got {dict(pairs)}")
    kept = tuple(sorted((str(n), float(w)) for n, w in pairs if float(w) > 0))
    if not kept:
        raise UsageError(f"give at least one mutation a positive weight; valid: {valid}")
    return kept


def choose_mutation(weights: tuple[tuple[str, float], ...], rng: Rng) -> str:
    """Draw a mutation name by ``weights`` (normalised pairs; equal weights use one integer draw)."""
    names = [name for name, _ in weights]
    values = np.array([w for _, w in weights], dtype=float)
    if np.all(values == values[0]):  # the 0.1.0 draw, so uniform runs keep their stream
        return names[int(rng.integers(len(names)))]
    return names[int(rng.choice(len(names), p=values / values.sum()))]
