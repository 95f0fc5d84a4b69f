"""Model → graph: the structure of a (pruned) model as a networkx DiGraph.

``to_graph(model)`` asks the model for its ``structure_graph(include_io)``: one node per
neuron with a ``layer`` attribute, one edge per live connection (mask · weight ≠ 0).
Implemented by MaskedDeepFFN, GraphNet, MaskedRNN and GraphRNN (i2h structure).
The reverse direction is the model constructors themselves, e.g. ``GraphNet(to_graph(net), …)``.
"""

from __future__ import annotations

import networkx as nx

from hiddenstruct.errors import HiddenstructError


class UnsupportedModelError(HiddenstructError, TypeError):
    """The model has no graph structure that ``to_graph`` knows how to extract."""


def to_graph(model, include_io: bool = False) -> nx.DiGraph:
    """Graph of the live connections of ``model``; inputs/outputs added with ``include_io``."""
    method = getattr(model, "structure_graph", None)
    if not callable(method):
        raise UnsupportedModelError(
            f"to_graph does not support {type(model).__name__}: it needs a model with a "
            "structure_graph(include_io) method (MaskedDeepFFN, GraphNet, MaskedRNN, GraphRNN)"
        )
    graph = method(include_io=include_io)
    if not isinstance(graph, nx.DiGraph):
        raise UnsupportedModelError(
            f"{type(model).__name__}.structure_graph returned {type(graph).__name__}, not a DiGraph"
        )
    return graph
