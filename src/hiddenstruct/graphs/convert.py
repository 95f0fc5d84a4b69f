"""Model → graph: the structure of a (pruned) model as a networkx DiGraph.

``to_graph(model)`` follows the paper's definition of a sparse network's structure: every
neuron is a vertex — the inputs ``("in", i)``, the hidden neurons and the outputs
``("out", j)`` — and every live weight (mask · weight ≠ 0) an edge. ``hidden_only=True``
keeps only the hidden neurons and the weights between them (the graph a structural prior
is built from). Implemented through the models' ``structure_graph(include_io)`` method:
MaskedDeepFFN, GraphNet, SequenceClassifier, MaskedRNN and GraphRNN (i2h structure: an edge
per connection live in any gate; recurrent h2h weights are not part of this acyclic view)
and the NAS GenotypeNet (its genotype DAG). The reverse direction is the model constructors
themselves, e.g. ``GraphNet(to_graph(net, hidden_only=True), …)``.

Example::

    >>> G = to_graph(MaskedDeepFFN(784, 10, [100]))
    >>> G.number_of_edges()     # 784·100 + 100·10: every weight of the MLP
    79400
"""

from __future__ import annotations

import networkx as nx

from hiddenstruct.errors import HiddenstructError, UsageError


class UnsupportedModelError(HiddenstructError, TypeError):
    """The model has no graph structure that ``to_graph`` knows how to extract."""


def to_graph(
    model, *, hidden_only: bool | None = None, include_io: bool | None = None
) -> nx.DiGraph:
    """Graph of ``model``'s neurons and live weights; ``hidden_only`` drops inputs and outputs.

    ``include_io`` is the 0.1.0 spelling (``include_io=True`` is today's default, the same as
    ``hidden_only=False``); passing both with conflicting values is an error.
    """
    if include_io is not None:
        if hidden_only is not None and bool(include_io) == bool(hidden_only):
            raise UsageError(
                "to_graph: include_io and hidden_only contradict each other; pass only "
                "hidden_only (include_io=True is the default, hidden_only=True drops inputs/outputs)"
            )
        hidden_only = not include_io
    hidden_only = bool(hidden_only)
    method = getattr(model, "structure_graph", None)
    if not callable(method):
        raise UnsupportedModelError(
            f"to_graph does not support {type(model).__name__}: it needs a model with a "
            "structure_graph(include_io) method (MaskedDeepFFN, GraphNet, MaskedRNN, GraphRNN)"
        )
    graph = method(include_io=not hidden_only)
    if not isinstance(graph, nx.DiGraph):
        raise UnsupportedModelError(
            f"{type(model).__name__}.structure_graph returned {type(graph).__name__}, not a DiGraph"
        )
    return graph
