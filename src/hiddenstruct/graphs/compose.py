"""Composition of layered DAGs: stack one network structure on top of another.

``compose(first, second)`` returns one DAG in which the *outputs* of ``first`` (its sinks,
out-degree 0) feed the *inputs* of ``second`` (its sources, in-degree 0):

* ``connect="complete"`` (default): every sink of ``first`` → every source of ``second``.
  Then every source of ``second`` sits one layer after ``first``'s last layer, so the layer
  count of the result is the sum of the two (tested).
* ``connect="one_to_one"``: the i-th sink → the i-th source (both in node order); the two
  counts must be equal.

Vertices are relabelled ``0 … n₁−1`` (``first``, in its node order) and ``n₁ … n₁+n₂−1``
(``second``), so the result is a plain integer-labelled DAG that
:class:`~hiddenstruct.nn.GraphNet` builds directly; node attribute ``part`` (0 or 1) and
``origin`` (the old label) say where each vertex came from; other node and edge attributes
are kept. Undirected inputs are first oriented with :func:`~hiddenstruct.graphs.to_dag`.
deepstruct's ``LayeredGraph`` offers the same idea as ``append``; this rule is ours.

Example::

    >>> G = compose(nx.DiGraph([(0, 2), (1, 2)]), nx.DiGraph([(0, 1)]))
    >>> sorted(G.edges)
    [(0, 2), (1, 2), (2, 3), (3, 4)]
"""

from __future__ import annotations

import networkx as nx

from hiddenstruct.errors import GraphError, check_choice
from hiddenstruct.graphs.dag import to_dag

__all__ = ["CONNECTIONS", "compose"]

CONNECTIONS = ("complete", "one_to_one")


def compose(first: nx.Graph, second: nx.Graph, *, connect: str = "complete") -> nx.DiGraph:
    """One DAG: ``first``'s sinks feed ``second``'s sources (see the module docstring)."""
    check_choice(connect, CONNECTIONS, "connect rule")
    parts = [to_dag(first), to_dag(second)]
    out = nx.DiGraph()
    labels: list[dict] = []
    offset = 0
    for part, D in enumerate(parts):
        label = {v: offset + i for i, v in enumerate(D.nodes)}
        out.add_nodes_from(
            (label[v], {**data, "part": part, "origin": v}) for v, data in D.nodes(data=True)
        )
        out.add_edges_from((label[u], label[v], data) for u, v, data in D.edges(data=True))
        labels.append(label)
        offset += D.number_of_nodes()
    sinks = [labels[0][v] for v in parts[0].nodes if parts[0].out_degree(v) == 0]
    sources = [labels[1][v] for v in parts[1].nodes if parts[1].in_degree(v) == 0]
    if connect == "complete":
        out.add_edges_from((s, t) for s in sinks for t in sources)
    else:
        if len(sinks) != len(sources):
            raise GraphError(
                f"connect='one_to_one' needs as many sinks in the first graph as sources in "
                f"the second, got {len(sinks)} and {len(sources)}; use connect='complete'"
            )
        out.add_edges_from(zip(sinks, sources, strict=True))
    return out
