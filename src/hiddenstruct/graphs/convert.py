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

Any other ``nn.Module`` is traced with ``torch.fx``: ``to_graph(model, example_inputs,
granularity="op" | "neuron" | "channel")`` (see :mod:`hiddenstruct.graphs.traced` and
docs/traced-graphs.md).

Example::

    >>> G = to_graph(MaskedDeepFFN(784, 10, [100]))
    >>> G.number_of_edges()     # 784·100 + 100·10: every weight of the MLP
    79400
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx
import torch

from hiddenstruct.errors import UnsupportedModelError, UsageError
from hiddenstruct.graphs.traced import DEFAULT_MAX_EDGES, traced_graph


class ExampleInputsError(UsageError, TypeError):
    """``example_inputs`` is not a tensor or a tuple of tensors."""


def to_graph(
    model,
    example_inputs=None,
    *,
    granularity: str | None = None,
    hidden_only: bool | None = None,
    include_io: bool | None = None,
    include: Iterable | None = None,
    exclude: Iterable | None = None,
    fold: Iterable | None = None,
    weights: bool = False,
    max_edges: int | None = DEFAULT_MAX_EDGES,
) -> nx.DiGraph:
    """Graph of ``model``'s neurons and live weights; ``hidden_only`` drops inputs and outputs.

    Our models (those with ``structure_graph``) give their own graph unless another
    ``granularity`` or a traced-only option is asked for; any other ``nn.Module`` is traced
    with ``torch.fx`` (:func:`~hiddenstruct.graphs.traced.traced_graph`): ``granularity`` is
    ``"op"``, ``"neuron"`` (the default; needs ``example_inputs``) or ``"channel"``.
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
    if example_inputs is not None and not isinstance(example_inputs, torch.Tensor | tuple | list):
        raise ExampleInputsError(
            "to_graph: example_inputs must be a tensor or a tuple of tensors, got "
            f"{type(example_inputs).__name__} (the flags hidden_only/include_io are keyword-only)"
        )
    method = getattr(model, "structure_graph", None)
    traced_only = bool(include or exclude or fold or weights)
    if callable(method) and granularity in (None, "neuron") and not traced_only:
        graph = method(include_io=not hidden_only)
        if not isinstance(graph, nx.DiGraph):
            raise UnsupportedModelError(
                f"{type(model).__name__}.structure_graph returned {type(graph).__name__}, "
                "not a DiGraph"
            )
        return graph
    if granularity is None and example_inputs is None:
        raise UnsupportedModelError(
            f"to_graph of {type(model).__name__} (a model without structure_graph) traces it "
            "with torch.fx: pass example_inputs (a batch it accepts, e.g. torch.zeros(1, 4)) "
            "for its neurons, or granularity='op' for one vertex per layer or function"
        )
    graph = traced_graph(
        model, example_inputs, granularity=granularity or "neuron", include=include,
        exclude=exclude, fold=fold, weights=weights, max_edges=max_edges,
    )  # fmt: skip
    if hidden_only:
        graph.remove_nodes_from([v for v, d in graph.nodes(data=True) if _is_io(v, d)])
    return graph


def _is_io(v, data: dict) -> bool:
    if data.get("kind") in ("input", "output"):
        return True
    return isinstance(v, tuple) and len(v) == 2 and v[0] in ("in", "out")
