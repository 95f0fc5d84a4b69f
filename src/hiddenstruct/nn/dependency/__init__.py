"""Dependency groups of the prunable units of any model, found by tracing it with torch.fx.

A *unit* is an output neuron of a ``Linear``, an output channel of a ``Conv``, a hidden unit
of a recurrent layer (``nn.RNN``/``nn.GRU``/``nn.LSTM``, our :class:`MaskedRNN`) or a head
of an ``nn.MultiheadAttention``. Units that can only be removed together form one
:class:`Group`: channels tied by a residual add (every producer of the summed channel) or
a concatenation, a conv's output channel with the following BatchNorm channel and the
input channel of every layer reading it (a flattened channel is a block of columns), a
recurrent hidden unit with its rows in every gate of ``W_ih`` and ``W_hh``, its column of
``W_hh`` and the next layer's input column.

How: the model is traced (``torch.fx``, the layers above as leaves), shapes are
propagated with ``example_inputs``, and every value carries, for its channel dimension,
one *slot* per entry; producers make new slots, residual adds unite slots, readers
record which of their input columns read which slot. An operation we do not understand
*pins* the slots it touches: pinned groups (and the model's outputs) are never pruned,
so what is offered is always safe to remove. LayerNorm / GroupNorm pin their inputs
(removing a channel changes the statistics); ``view``/``reshape`` with a literal size pin
too (the literal would not survive removal). Torch's multi-layer ``nn.GRU``/``nn.LSTM``
have one ``hidden_size`` for all layers: hidden unit ``j`` of every layer is one group
(our choice, so the compacted module is an ``nn.GRU``/``nn.LSTM`` again); a
:class:`MaskedRNN` has one group per unit and layer.

Example::

    >>> graph = dependency_graph(resnet, torch.randn(1, 3, 32, 32))
    >>> len(graph.groups), graph.groups[0].kind
    (..., 'channel')
"""

from __future__ import annotations

import torch
import torch.fx
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs.fx_trace import TracingError, propagate_shapes, trace_model
from hiddenstruct.nn.activations import get_activation
from hiddenstruct.nn.attention import CompactMultiheadAttention
from hiddenstruct.nn.dependency.groups import (
    KINDS,
    PRODUCER_AXES,
    DependencyGraph,
    Group,
    Member,
)
from hiddenstruct.nn.dependency.propagate import Propagate
from hiddenstruct.nn.dependency.slots import Info
from hiddenstruct.nn.ffn import MaskedDeepFFN
from hiddenstruct.nn.rnn import MaskedRNN

__all__ = [
    "FOLDED",
    "KINDS",
    "PRODUCER_AXES",
    "DependencyGraph",
    "Group",
    "Info",
    "Member",
    "dependency_graph",
    "trace",
]

FOLDED: tuple[type[nn.Module], ...] = (MaskedRNN, CompactMultiheadAttention)
"""Our layers traced as leaves besides torch's own (a CompactMultiheadAttention pins its
inputs: its heads are not pruned again)."""


class _FFNView(nn.Module):
    """A traceable stand-in for a :class:`MaskedDeepFFN` (whose forward checks the input
    size, which torch.fx cannot trace): the same ``layers`` and ``norms`` under the same
    names, the same computation."""

    def __init__(self, ffn: MaskedDeepFFN) -> None:
        super().__init__()
        self.layers = ffn.layers
        self.norms = ffn.norms if ffn.layer_norm else None
        self.act = get_activation(ffn.activation).fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], -1)
        for i, layer in enumerate(self.layers[:-1]):
            x = layer(x)
            x = self.act(x if self.norms is None else self.norms[i](x))
        return self.layers[-1](x)


def trace(model: nn.Module, fold=None) -> torch.fx.GraphModule:
    """``model`` traced by torch.fx (:func:`hiddenstruct.graphs.fx_trace.trace_model`) with
    torch's layers, ours (:data:`FOLDED`) and ``fold`` (module types or qualified names: opaque
    leaves, whose units are pinned) as leaves; a model that cannot be traced is a
    :class:`UsageError` naming the module that failed."""
    if isinstance(model, MaskedDeepFFN):
        model = _FFNView(model)
    try:
        return trace_model(model, fold=[*FOLDED, *(fold or ())])
    except TracingError as error:
        raise UsageError(f"structured pruning and compaction: {error}") from None


def dependency_graph(model: nn.Module, example_inputs, fold=None) -> DependencyGraph:
    """The prunable unit groups of ``model``, traced with ``example_inputs`` (a tensor or a
    tuple of positional inputs). Pinned units (model outputs, unknown operations, modules in
    ``fold``: see :func:`trace`) are left out."""
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    gm = trace(model, fold)
    try:  # eval and no_grad: shapes only, no BatchNorm statistics updated
        propagate_shapes(gm, inputs)
    except Exception as error:
        raise UsageError(
            f"running {type(model).__name__} on example_inputs failed: {error}".splitlines()[0]
        ) from None
    analysis = Propagate(gm).run()
    groups, pinned = analysis.groups()
    return DependencyGraph(model, groups, pinned, list(dict.fromkeys(analysis.notes)))
