"""Scalable network families: a small *theme* DAG grown to any width (after deepstruct's
``ScalableDAN``).

A family is a theme graph plus one proportion per theme vertex. ``grow(width)`` replaces
every theme vertex ``v`` by a group of ``max(1, round(p_v · width))`` neurons and every theme
edge ``(u, v)`` by all edges from ``u``'s group to ``v``'s (complete bipartite), so the grown
graph keeps the theme's layering and shape at any size; ``build(width, …)`` makes a
:class:`~hiddenstruct.nn.GraphNet` of it. Proportions are positive weights, normalised to
sum 1. Each group has at least one neuron (our choice: deepstruct rounds and may drop a
vertex of a small proportion at a small width, which would change the theme's shape).

Example::

    >>> family = ScalableDAN(nx.DiGraph([("a", "b"), ("a", "c"), ("b", "c")]),
    ...                      {"a": 0.5, "b": 0.25, "c": 0.25})
    >>> G = family.grow(8)          # groups of 4, 2 and 2 neurons
    >>> G.number_of_edges()         # 4·2 + 4·2 + 2·2
    20
    >>> net = family.build(8, input_size=10, output_size=3)
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import networkx as nx

from hiddenstruct.errors import GraphError, UsageError
from hiddenstruct.graphs.dag import to_dag
from hiddenstruct.nn.graphnet import GraphNet

__all__ = ["ScalableDAN"]


class ScalableDAN:
    """A theme DAG with per-vertex proportions: :meth:`grow` to a width, :meth:`build` a net."""

    def __init__(
        self, theme: nx.Graph, proportions: Mapping[Hashable, float] | None = None
    ) -> None:
        self.theme = to_dag(theme)
        vertices = list(self.theme.nodes)
        if proportions is None:
            proportions = {v: 1.0 for v in vertices}
        missing = [v for v in vertices if v not in proportions]
        extra = [v for v in proportions if v not in self.theme]
        if missing or extra:
            raise GraphError(
                "proportions must name every theme vertex and nothing else "
                f"(missing {missing[:3]!r}, unknown {extra[:3]!r})"
            )
        bad = [v for v in vertices if not float(proportions[v]) > 0]
        if bad:
            raise UsageError(
                f"proportions must be positive, got {proportions[bad[0]]!r} for {bad[0]!r}"
            )
        total = sum(float(proportions[v]) for v in vertices)
        self.proportions = {v: float(proportions[v]) / total for v in vertices}

    def sizes(self, width: int) -> dict[Hashable, int]:
        """Neurons per theme vertex at ``width``: ``max(1, round(p_v · width))``."""
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise UsageError(f"width must be a positive int, got {width!r}")
        return {v: max(1, round(p * width)) for v, p in self.proportions.items()}

    def grow(self, width: int) -> nx.DiGraph:
        """The theme grown to ``width``: integer vertices with attributes ``theme`` (the theme
        vertex) and ``copy`` (index within its group); edges complete between groups."""
        sizes = self.sizes(width)
        group: dict[Hashable, list[int]] = {}
        G = nx.DiGraph()
        start = 0
        for v in self.theme.nodes:
            group[v] = list(range(start, start + sizes[v]))
            G.add_nodes_from((n, {"theme": v, "copy": i}) for i, n in enumerate(group[v]))
            start += sizes[v]
        for u, v in self.theme.edges:
            G.add_edges_from((s, t) for s in group[u] for t in group[v])
        return G

    def build(
        self,
        width: int,
        input_size: int | Sequence[int],
        output_size: int,
        **graphnet_options,
    ) -> GraphNet:
        """A :class:`~hiddenstruct.nn.GraphNet` of :meth:`grow` ``(width)`` (options passed on)."""
        return GraphNet(self.grow(width), input_size, output_size, **graphnet_options)

    def __repr__(self) -> str:
        return (
            f"ScalableDAN(theme: {self.theme.number_of_nodes()} vertices, "
            f"{self.theme.number_of_edges()} edges)"
        )
