"""Layered DAGs: orientation of undirected graphs, validation and the layer index.

The layer index of a vertex is ind(v) = max({ind(s) | (s, v) ∈ E} ∪ {−1}) + 1, so the
sources form layer 0 (paper §4.3, docs/priors-experiment.md).
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence

import networkx as nx

from hiddenstruct.errors import GraphError


def _comparable_sorted(nodes: list[Hashable]) -> list[Hashable] | None:
    try:
        return sorted(nodes)
    except TypeError:
        return None


def default_order(G: nx.Graph) -> list[Hashable]:
    """Ascending labels when all labels are mutually comparable, else the graph's node order."""
    nodes = list(G.nodes)
    ordered = _comparable_sorted(nodes)
    return nodes if ordered is None else ordered


def cycle_text(G: nx.Graph) -> str | None:
    """One directed cycle of ``G`` as ``0 -> 1 -> 2 -> 0`` (None for undirected graphs and
    DAGs)."""
    if not G.is_directed() or nx.is_directed_acyclic_graph(G):
        return None
    cycle = nx.find_cycle(G)
    return " -> ".join(repr(u) for u, _ in cycle) + f" -> {cycle[0][0]!r}"


def validate_graph(G: nx.Graph, *, require_connected: bool = False) -> None:
    """Raise :class:`GraphError` for an empty graph, self-loops, cycles (directed graphs),
    or (with ``require_connected``) a graph in several weakly connected parts."""
    if not isinstance(G, nx.Graph):
        raise GraphError(f"expected a networkx graph, got {type(G).__name__}")
    if G.number_of_nodes() == 0:
        raise GraphError("the graph is empty (no vertices)")
    if G.is_multigraph():
        raise GraphError("multigraphs are not supported: convert to a simple graph first")
    loops = list(nx.selfloop_edges(G))
    if loops:
        raise GraphError(f"the graph has self-loops, e.g. on vertex {loops[0][0]!r}")
    cycle = cycle_text(G)
    if cycle is not None:
        raise GraphError(f"the graph has a cycle: {cycle}")
    if require_connected:
        parts = (
            nx.number_weakly_connected_components(G)
            if G.is_directed()
            else nx.number_connected_components(G)
        )
        if parts > 1:
            raise GraphError(
                f"the graph is disconnected ({parts} components); a connected graph is required"
            )


def to_dag(
    G: nx.Graph, order: Sequence[Hashable] | None = None, seed: int | None = None
) -> nx.DiGraph:
    """Orient an undirected graph into a DAG; a directed graph is validated and copied.

    Each edge {u, v} is oriented from the endpoint that comes first in ``order`` to the
    later one. ``order`` defaults to ascending labels when they are mutually comparable
    (integers: smaller → larger), otherwise the graph's own node order; with ``seed`` and
    no ``order`` a seeded random permutation of that default order is used.
    Node and edge attributes are kept.
    """
    validate_graph(G)
    if G.is_directed():
        if order is not None or seed is not None:
            raise GraphError(
                "order/seed only apply to undirected graphs; this graph is already directed"
            )
        return nx.DiGraph(G)
    if order is None:
        order = default_order(G)
        if seed is not None:
            order = list(order)
            random.Random(seed).shuffle(order)
    position = {node: i for i, node in enumerate(order)}
    missing = [node for node in G.nodes if node not in position]
    if missing or len(position) != G.number_of_nodes() or len(position) != len(order):
        raise GraphError(
            f"order must list every vertex exactly once (missing e.g. {missing[:3]!r})"
            if missing
            else "order lists vertices that are not in the graph or lists one twice"
        )
    D = nx.DiGraph()
    D.graph.update(G.graph)
    D.add_nodes_from(sorted(G.nodes(data=True), key=lambda item: position[item[0]]))
    for u, v, data in G.edges(data=True):
        if position[u] < position[v]:
            D.add_edge(u, v, **data)
        else:
            D.add_edge(v, u, **data)
    return D


def _as_dag(G: nx.Graph) -> nx.DiGraph:
    return to_dag(G) if not G.is_directed() else (validate_graph(G) or G)


def layer_index(G: nx.Graph) -> dict[Hashable, int]:
    """ind(v) for every vertex; undirected graphs are first oriented with :func:`to_dag`."""
    D = _as_dag(G)
    index: dict[Hashable, int] = {}
    for v in nx.topological_sort(D):
        index[v] = max((index[s] for s in D.predecessors(v)), default=-1) + 1
    return index


def layers(G: nx.Graph) -> list[list[Hashable]]:
    """Vertices grouped by layer index (layer 0 = sources), each layer in node order."""
    D = _as_dag(G)
    index = layer_index(D)
    grouped: list[list[Hashable]] = [[] for _ in range(max(index.values()) + 1)]
    for v in D.nodes:
        grouped[index[v]].append(v)
    return grouped
