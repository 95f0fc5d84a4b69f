"""Units of the layers traced as leaves that own their units: the hidden units of a recurrent
layer (``nn.RNN``/``nn.GRU``/``nn.LSTM``, our :class:`~hiddenstruct.nn.rnn.MaskedRNN`) and
the heads of an ``nn.MultiheadAttention``.

Each rule makes the layer's units as new slots and says what its outputs carry. A torch
multi-layer RNN has one ``hidden_size`` for all layers, so hidden unit ``j`` of every layer
is one group; a MaskedRNN has one group per unit and layer; an LSTM with ``proj_size`` makes
projected units too. A bidirectional RNN, one given an initial state, or an attention layer
whose weights are read (or with ``bias_k`` / ``add_zero_attn``) is pinned."""

from __future__ import annotations

import operator

from hiddenstruct.nn.dependency.groups import Member
from hiddenstruct.nn.dependency.slots import Analysis, Info


def torch_rnn(a: Analysis, node, name, module, args, kwargs):
    """An ``nn.RNN``/``nn.GRU``/``nn.LSTM``: ``(output, h)`` (``(output, (h, c))`` for LSTM)."""
    x, hidden = args[0], module.hidden_size
    shapes = node.meta.get("tensor_meta")
    hx = args[1] if len(args) > 1 else kwargs.get("hx")
    pinned = module.bidirectional or len(node.args) > 1 or node.kwargs.get("hx") is not None
    if pinned:
        a.pin((x, hx), f"{name}: a bidirectional RNN or one given hx is pinned")
    cells = a.new([Member(name, "hidden", k) for k in range(hidden)], pinned=pinned)
    slots = cells
    if module.proj_size:
        units = range(module.proj_size)
        slots = a.new([Member(name, "proj", k) for k in units], pinned=pinned)
    if isinstance(x, Info) and x.dim == x.ndim - 1 and not pinned:
        a.attach(x.slots, name, "in")
    else:
        a.pin(x)
    if module.bidirectional or not hasattr(shapes[0], "shape"):  # e.g. a PackedSequence
        a.pin([Info(0, 0, cells), Info(0, 0, slots)], f"{name}: output not a tensor")
        return (None, None)
    out_ndim = len(shapes[0].shape)
    h_meta = shapes[1] if hasattr(shapes[1], "shape") else shapes[1][0]
    h_ndim = len(h_meta.shape)
    out = Info(out_ndim, out_ndim - 1, slots)
    h = Info(h_ndim, h_ndim - 1, slots)
    return (out, (h, Info(h_ndim, h_ndim - 1, cells)) if module.mode == "LSTM" else h)


def masked_rnn(a: Analysis, node, name, module, args, kwargs):
    """A :class:`~hiddenstruct.nn.rnn.MaskedRNN`: ``(output, per-layer states)``."""
    x = args[0]
    hx_given = len(node.args) > 2 or node.kwargs.get("hx") is not None
    layers = []
    for layer_index, layer in enumerate(module.layers):
        members = [Member(name, f"hidden{layer_index}", k) for k in range(layer.hidden_size)]
        layers.append(a.new(members, pinned=hx_given))
    if isinstance(x, Info) and x.dim == x.ndim - 1 and not hx_given:
        a.attach(x.slots, name, "in")
    else:
        a.pin(x)
    a.pin((args[1:], kwargs))
    states = []
    for slots in layers:
        h = Info(2, 1, slots)
        states.append((h, h) if module.spec.has_cell else h)
    return (Info(3, 2, layers[-1]), states)


def attention(a: Analysis, node, name, module, args, kwargs):
    """An ``nn.MultiheadAttention``: its heads; its inputs and outputs carry no units."""
    a.pin((args, kwargs))
    reads_weights = any(
        u.target is operator.getitem and u.args[1] != 0 and u.users for u in node.users
    )
    plain = module.bias_k is None and not module.add_zero_attn
    members = [Member(name, "head", h) for h in range(module.num_heads)]
    a.new(members, pinned=reads_weights or not plain)
    return (None, None)
