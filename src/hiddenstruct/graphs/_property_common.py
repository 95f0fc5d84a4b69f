"""Shared pieces of the graph-property backends: names, input checks, statistics, components."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import networkx as nx
import numpy as np

from hiddenstruct.errors import GraphError

_SUMMARISED = ("eccentricity", "degree", "closeness", "nodes_betweenness", "edge_betweenness")

#: The structural features in column order: paper Table 1's, with ``sink_nodes`` beside
#: ``source_nodes`` and the mean and std beside each variance.
PROPERTY_NAMES: tuple[str, ...] = (
    "layers",
    "nodes",
    "edges",
    "source_nodes",
    "sink_nodes",
    "diameter",
    "density",
    "average_shortest_path_length",
    *(f"{base}_{stat}" for base in _SUMMARISED for stat in ("mean", "var", "std")),
)

DISCONNECTED_POLICIES = ("error", "largest")


def check_input(G: nx.Graph, disconnected: str) -> None:
    """Cheap checks shared by all backends (the DAG check happens where layers are computed)."""
    if disconnected not in DISCONNECTED_POLICIES:
        raise GraphError(
            f"unknown disconnected policy {disconnected!r}; valid: {', '.join(DISCONNECTED_POLICIES)}"
        )
    if not isinstance(G, nx.Graph):
        raise GraphError(f"expected a networkx graph, got {type(G).__name__}")
    if G.is_multigraph():
        raise GraphError(
            "multigraphs are not supported: convert to a simple graph first (nx.Graph(G))"
        )
    if G.number_of_nodes() < 2:
        raise GraphError(f"graph properties need at least 2 vertices, got {G.number_of_nodes()}")
    if nx.number_of_selfloops(G):
        node = next(iter(nx.nodes_with_selfloops(G)))
        raise GraphError(f"the graph has self-loops, e.g. on vertex {node!r}; remove them first")
    if G.number_of_edges() == 0:  # every component is one vertex: nothing to measure
        raise GraphError(
            f"the graph has {G.number_of_nodes()} vertices and no edges: its largest component "
            "is a single vertex and graph properties need at least 2 connected vertices"
        )


def summary(prefix: str, values: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Mean and *sample* variance / standard deviation (ddof = 1); NaN for fewer than 2 values."""
    array = np.asarray(values, dtype=np.float64)
    count = array.size
    mean = float(array.sum()) / count if count else float("nan")
    deviation = array - mean
    var = float(deviation @ deviation) / (count - 1) if count > 1 else float("nan")
    return {f"{prefix}_mean": mean, f"{prefix}_var": var, f"{prefix}_std": math.sqrt(var)}


def density(nodes: int, edges: int) -> float:
    """E / (N (N − 1)): networkx's directed density of the oriented DAG (paper Table 1)."""
    return edges / (nodes * (nodes - 1)) if nodes > 1 else 0.0


def largest_component(G: nx.Graph, order: Sequence[Hashable] | None = None) -> nx.Graph:
    """The largest (weakly) connected component as a subgraph copy; ties → the one whose
    first vertex comes first in ``order`` (default: the graph's node order)."""
    parts = list(
        nx.weakly_connected_components(G) if G.is_directed() else nx.connected_components(G)
    )
    position = {node: i for i, node in enumerate(order if order is not None else G.nodes)}
    best = max(parts, key=lambda part: (len(part), -min(position[v] for v in part)))
    return G.subgraph(best).copy()


def disconnected_error(parts: int) -> GraphError:
    return GraphError(
        f"the graph is disconnected ({parts} components): distances and closeness are undefined; "
        "connect it, or pass disconnected='largest' (CLI: --disconnected largest) to compute the "
        "properties of its largest component"
    )


def ordered(values: dict[str, float]) -> dict[str, float]:
    """The result dict in :data:`PROPERTY_NAMES` order (and exactly those keys)."""
    missing = [name for name in PROPERTY_NAMES if name not in values]
    if missing:  # pragma: no cover - a backend bug, not user input
        raise AssertionError(f"backend did not compute {missing}")
    return {name: values[name] for name in PROPERTY_NAMES}
