"""Structural features of a graph (paper Table 1, docs/priors-and-prediction.md), with a fast and a reference backend.

Semantics (networkx's): distances and centralities on the *undirected* graph; ``density`` =
E / (N (N − 1)); ``degree_*`` summarise degree centrality; closeness, node and edge
betweenness normalised as networkx does; ``*_var`` / ``*_std`` are sample statistics
(ddof = 1, NaN for a single value). ``layers`` is the number of layers of the oriented DAG
(undirected graphs are oriented by :func:`hiddenstruct.graphs.to_dag`'s default order,
directed graphs must be DAGs and are used as given); ``source_nodes`` / ``sink_nodes`` are
the sizes of its first / last layer.

Disconnected graphs raise :class:`GraphError` unless ``disconnected="largest"`` is given,
in which case every property (``nodes`` and ``edges`` included) is that of the largest
connected component.

Example::

    >>> import networkx as nx
    >>> properties(nx.path_graph(4))["diameter"]
    3
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import networkx as nx

from hiddenstruct.errors import GraphError, lookup
from hiddenstruct.graphs._igraph_properties import igraph_properties
from hiddenstruct.graphs._networkx_properties import networkx_properties
from hiddenstruct.graphs._property_common import DISCONNECTED_POLICIES, PROPERTY_NAMES, check_input

__all__ = ["BACKENDS", "DISCONNECTED_POLICIES", "PROPERTY_NAMES", "properties", "properties_table"]

PropertyBackend = Callable[[nx.Graph, str], dict[str, float]]

#: Backends by name: ``igraph`` (fast, default) and ``networkx`` (the reference).
BACKENDS: Mapping[str, PropertyBackend] = {
    "igraph": igraph_properties,
    "networkx": networkx_properties,
}


def properties(
    G: nx.Graph, backend: str = "igraph", *, disconnected: str = "error"
) -> dict[str, float]:
    """The structural properties of ``G`` (paper Table 1) as a dict with keys :data:`PROPERTY_NAMES`, in order.

    ``backend``: ``"igraph"`` (fast) or ``"networkx"`` (reference). ``disconnected``:
    ``"error"`` (default) raises :class:`GraphError` for a graph in several parts;
    ``"largest"`` computes everything on the largest connected component.
    """
    compute = lookup(BACKENDS, backend, "property backend", error=GraphError)
    check_input(G, disconnected)
    return compute(G, disconnected)


def properties_table(
    graphs: Iterable[nx.Graph], backend: str = "igraph", *, disconnected: str = "error"
) -> list[dict[str, float]]:
    """:func:`properties` of each graph, one dict per graph (rows of a meta-dataset)."""
    return [properties(G, backend, disconnected=disconnected) for G in graphs]
