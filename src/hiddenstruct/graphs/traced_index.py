"""Id tensors: vertex numbers in place of activations, and the index arithmetic on them.

The neuron-level walk (:mod:`hiddenstruct.graphs.traced_neurons`) replaces every tensor of a
forward pass by an :class:`Ids` tensor — per element, the number of the vertex that element
is (with a batch dimension of 1). Ops that only move elements run on it unchanged
(:func:`apply_index_op`); convolutions and pooling read their windows with :func:`windows`
(``F.unfold`` on the padded ids, −1 where the padding is zero).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np
import torch
from torch import fx, nn
from torch.nn import functional as F


@dataclass
class Ids:
    """Vertex numbers of a tensor's elements ([1, …]: batch of one)."""

    t: torch.Tensor


@dataclass
class Tokens:
    """An integer input (token ids): no vertices until an Embedding reads it."""

    shape: tuple[int, ...]


def per_dim(value, n: int) -> tuple[int, ...]:
    """A per-dimension setting (int or sequence) as an n-tuple."""
    return tuple(value) if isinstance(value, tuple | list) else (value,) * n


def _pads(module: nn.Module, n: int) -> list[int]:
    """F.pad's argument (last dimension first) for a conv/pool's padding."""
    kernel, dilation = per_dim(module.kernel_size, n), per_dim(getattr(module, "dilation", 1), n)
    padding = module.padding
    if padding == "valid":
        pairs = [(0, 0)] * n
    elif padding == "same":
        totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        pairs = [(t // 2, t - t // 2) for t in totals]
    else:
        pairs = [(p, p) for p in per_dim(padding, n)]
    return [p for pair in reversed(pairs) for p in pair]


def windows(ids: torch.Tensor, module: nn.Module, n: int) -> torch.Tensor:
    """[C, K, L]: the input vertex at each kernel offset K and output position L (−1 = pad).

    ``ids`` is [C, *spatial] (n spatial dims, 1 or 2); 1-d becomes 2-d with height 1.
    """
    kernel = per_dim(module.kernel_size, n)
    stride = per_dim(module.stride if module.stride is not None else kernel, n)
    dilation = per_dim(getattr(module, "dilation", 1), n)
    pads = _pads(module, n)
    mode = getattr(module, "padding_mode", "zeros")
    x = ids.double().unsqueeze(0)
    if any(pads):
        if mode == "zeros":
            x = F.pad(x, pads, value=-1.0)
        else:
            x = F.pad(x, pads, mode=mode)
    if n == 1:
        x, kernel, stride, dilation = (x.unsqueeze(2), (1, *kernel), (1, *stride), (1, *dilation))
    cols = F.unfold(x, kernel, dilation=dilation, stride=stride)[0].long()
    return cols.reshape(ids.shape[0], math.prod(kernel), -1)


def adaptive_windows(ids: torch.Tensor, out: torch.Tensor):
    """Structural edges of adaptive pooling: PyTorch's window start ⌊i·n/m⌋, end ⌈(i+1)·n/m⌉."""
    srcs, dsts = [], []
    sizes_in, sizes_out = ids.shape[1:], out.shape[1:]
    grids = [
        [(i * n // m, -((-(i + 1) * n) // m)) for i in range(m)]
        for n, m in zip(sizes_in, sizes_out, strict=True)
    ]
    for position in np.ndindex(*sizes_out):
        window = tuple(slice(*grids[d][p]) for d, p in enumerate(position))
        block = ids[(slice(None), *window)].reshape(ids.shape[0], -1)
        srcs.append(block)
        dsts.append(out[(slice(None), *position)][:, None].expand_as(block))
    return torch.cat(srcs, 1), torch.cat(dsts, 1)


def unwrap(value):
    if isinstance(value, Ids):
        return value.t
    if isinstance(value, tuple | list):
        return type(value)(unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    return value


def wrap(value):
    if isinstance(value, torch.Tensor) and not value.is_floating_point() and value.dim() > 0:
        return Ids(value)
    if isinstance(value, tuple | list) and not isinstance(value, torch.Size):
        return type(value)(wrap(v) for v in value)
    return value


def apply_index_op(node: fx.Node, args, kwargs):
    """Run an index-moving (or shape-reading) op on the id tensors themselves."""
    args, kwargs = unwrap(args), unwrap(kwargs)
    if node.op == "call_method":
        result = getattr(args[0], node.target)(*args[1:], **kwargs)
    elif node.target is operator.getitem or node.target is getattr:
        result = node.target(*args)
    else:
        result = node.target(*args, **kwargs)
    return wrap(result)


def shaped_like(meta, vertex: torch.Tensor):
    if meta is None:
        return Ids(vertex.reshape(1, 1))
    if not hasattr(meta, "shape"):  # a tuple or list of tensors' metadata
        return type(meta)(shaped_like(m, vertex) for m in meta)
    return Ids(vertex.expand(*meta.shape[1:]).unsqueeze(0) if len(meta.shape) > 1 else vertex)
