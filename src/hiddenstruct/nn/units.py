"""The tensor entries that make up one unit of a layer (its rows, its biases, the columns
reading it), per layer type; :mod:`hiddenstruct.nn.dependency` groups units, pruning masks
and scores these entries, compaction removes them.

Example::

    >>> entries(nn.Linear(4, 3), "out", 1)
    [Entry(path='weight', dim=0, index=(1,), reader=False), Entry(path='bias', dim=0, ...)]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hiddenstruct.nn.rnn import MaskedRNN


@dataclass(frozen=True)
class Entry:
    """Entries ``index`` along ``dim`` of tensor ``path`` (relative to its module).

    ``reader``: the entries *read* the unit (input columns); a unit whose reader entries are
    all masked is read by nobody and may be removed without changing any output.
    """

    path: str
    dim: int
    index: tuple[int, ...]
    reader: bool = False


def _has(module: nn.Module, path: str) -> bool:
    try:
        return isinstance(_tensor(module, path), torch.Tensor)
    except AttributeError:
        return False


def _tensor(module: nn.Module, path: str) -> torch.Tensor:
    owner, _, name = path.rpartition(".")
    return getattr(module.get_submodule(owner) if owner else module, name)


def _rows(gates: int, hidden: int, j: int) -> tuple[int, ...]:
    return tuple(g * hidden + j for g in range(gates))


def linear_entries(module: nn.Linear | nn.Conv1d, axis: str, j: int) -> list[Entry]:
    if axis == "in":
        return [Entry("weight", 1, (j,), reader=True)]
    out = [Entry("weight", 0, (j,))]
    return out + ([Entry("bias", 0, (j,))] if module.bias is not None else [])


def channel_entries(module: nn.Module, axis: str, j: int) -> list[Entry]:
    """A per-channel module (BatchNorm, depthwise conv): its tensors' entry ``j``."""
    names = ("weight", "bias", "running_mean", "running_var")
    present = [n for n in names if n in module._parameters or n in module._buffers]
    present += [n for n in names if n not in present and _has(module, n)]  # masked ones
    return [Entry(n, 0, (j,)) for n in names if n in present]


GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def torch_rnn_entries(module: nn.RNNBase, axis: str, j: int) -> list[Entry]:
    """Torch RNN units, tied across layers: ``"hidden"`` (without projection: the unit;
    with ``proj_size``: a cell unit, read by its column of ``weight_hr``) and ``"proj"``
    (a projected output unit: its row of ``weight_hr``, read by ``W_hh`` and the next layer)."""
    if axis == "in":
        return [Entry("weight_ih_l0", 1, (j,), reader=True)]
    projected = module.proj_size > 0
    rows = _rows(GATES[module.mode], module.hidden_size, j)
    out = []
    for layer in range(module.num_layers):
        read = [Entry(f"weight_hh_l{layer}", 1, (j,), reader=True)]
        if layer + 1 < module.num_layers:
            read.append(Entry(f"weight_ih_l{layer + 1}", 1, (j,), reader=True))
        if axis == "proj":
            out += [Entry(f"weight_hr_l{layer}", 0, (j,)), *read]
            continue
        out += [Entry(f"weight_ih_l{layer}", 0, rows), Entry(f"weight_hh_l{layer}", 0, rows)]
        if module.bias:
            out += [Entry(f"bias_ih_l{layer}", 0, rows), Entry(f"bias_hh_l{layer}", 0, rows)]
        out += [Entry(f"weight_hr_l{layer}", 1, (j,), reader=True)] if projected else read
    return out


def masked_rnn_entries(module: MaskedRNN, axis: str, j: int) -> list[Entry]:
    if axis == "in":
        return [Entry("layers.0.weight_ih", 1, (j,), reader=True)]
    layer = int(axis.removeprefix("hidden"))
    p = f"layers.{layer}."
    rows = _rows(module.spec.gates, module.layers[layer].hidden_size, j)
    out = [Entry(p + n, 0, rows) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    out.append(Entry(p + "weight_hh", 1, (j,), reader=True))
    if layer + 1 < len(module.layers):
        out.append(Entry(f"layers.{layer + 1}.weight_ih", 1, (j,), reader=True))
    return out


def attention_entries(module: nn.MultiheadAttention, axis: str, h: int) -> list[Entry]:
    hd, E = module.head_dim, module.embed_dim
    own = tuple(range(h * hd, (h + 1) * hd))
    if module._qkv_same_embed_dim:
        rows = tuple(b * E + r for b in range(3) for r in own)
        out = [Entry("in_proj_weight", 0, rows)]
    else:
        out = [Entry(f"{p}_proj_weight", 0, own) for p in "qkv"]
        rows = tuple(b * E + r for b in range(3) for r in own)
    if module.in_proj_bias is not None:
        out.append(Entry("in_proj_bias", 0, rows))
    return out + [Entry("out_proj.weight", 1, own, reader=True)]


def entries(module: nn.Module, axis: str, j: int) -> list[Entry]:
    """The tensor entries of unit ``j`` on ``axis`` of ``module`` (see :class:`Member`)."""
    if isinstance(module, MaskedRNN):
        return masked_rnn_entries(module, axis, j)
    if isinstance(module, nn.RNNBase):
        return torch_rnn_entries(module, axis, j)
    if isinstance(module, nn.MultiheadAttention):
        return attention_entries(module, axis, j)
    if axis == "channel":
        return channel_entries(module, axis, j)
    return linear_entries(module, axis, j)
