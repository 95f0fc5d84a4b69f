"""The walk over a traced model: node by node, which slots each value carries.

Operations that keep units (activations, dropout, pooling over other dimensions, ``flatten``,
a ``reshape`` that is one, indexing other dimensions) pass slots on; residual adds and other
binary operations unite their operands' slots; ``cat`` joins them; a ``Linear`` or ``Conv``
reads its input's slots and makes new ones; a BatchNorm or depthwise conv joins the group of
its channel; the recurrent and attention layers follow :mod:`~hiddenstruct.nn.dependency.layers`.
Anything else pins the slots it touches."""

from __future__ import annotations

import math
import operator

import torch
import torch.fx
from torch import nn

from hiddenstruct.nn.dependency.groups import Member
from hiddenstruct.nn.dependency.layers import attention, masked_rnn, torch_rnn
from hiddenstruct.nn.dependency.slots import Analysis, Info, flatten_info, index_info
from hiddenstruct.nn.rnn import MaskedRNN

_ACTIVATIONS = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.GELU,
    nn.SiLU,
    nn.ELU,
    nn.Tanh,
    nn.Sigmoid,
    nn.Hardtanh,
    nn.Hardswish,
    nn.Mish,
    nn.Softplus,
    nn.Identity,
    nn.modules.dropout._DropoutNd,
)
_POOLS = (
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd,
)
_F = torch.nn.functional
_UNARY_FUNCTIONS = {
    _F.relu, _F.relu6, _F.leaky_relu, _F.gelu, _F.silu, _F.elu, _F.hardtanh, _F.hardswish,
    _F.mish, _F.softplus, _F.dropout, _F.dropout1d, _F.dropout2d, _F.dropout3d,
    torch.relu, torch.tanh, torch.sigmoid, _F.tanh, _F.sigmoid, operator.neg,
    _F.max_pool1d, _F.max_pool2d, _F.max_pool3d, _F.avg_pool1d, _F.avg_pool2d, _F.avg_pool3d,
    _F.adaptive_avg_pool1d, _F.adaptive_avg_pool2d, _F.adaptive_avg_pool3d,
    _F.adaptive_max_pool1d, _F.adaptive_max_pool2d, _F.adaptive_max_pool3d,
}  # fmt: skip
_UNARY_METHODS = {"relu", "tanh", "sigmoid", "contiguous", "clone", "float", "neg"}
_BINARY_FUNCTIONS = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.iadd,
    torch.add, torch.sub, torch.mul, torch.div,
}  # fmt: skip
_BINARY_METHODS = {"add", "sub", "mul", "div", "add_"}


def _shape(node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta") if isinstance(node, torch.fx.Node) else None
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None


def _infos(value, env):
    """``value`` (a node argument) with nodes replaced by their slot infos."""
    return torch.fx.node.map_arg(value, lambda n: env.get(n))


class Propagate:
    """Walk the traced graph once, node by node, filling an :class:`Analysis`."""

    def __init__(self, gm: torch.fx.GraphModule) -> None:
        self.gm = gm
        self.a = Analysis(gm)
        self.env: dict[torch.fx.Node, object] = {}

    def run(self) -> Analysis:
        for node in self.gm.graph.nodes:
            self.env[node] = self.visit(node)
        return self.a

    def visit(self, node: torch.fx.Node):
        args = _infos(node.args, self.env)
        kwargs = _infos(node.kwargs, self.env)
        if node.op in ("placeholder", "get_attr"):
            return None
        if node.op == "output":
            self.a.pin(args)
            return None
        if node.op == "call_module":
            return self.module(node, self.gm.get_submodule(node.target), args, kwargs)
        if node.op == "call_function" and node.target is operator.getitem:
            return self.getitem(node, args)
        if node.target in _UNARY_FUNCTIONS or (
            node.op == "call_method" and node.target in _UNARY_METHODS
        ):
            return self.unary(node, args, kwargs)
        if node.target in _BINARY_FUNCTIONS or (
            node.op == "call_method" and node.target in _BINARY_METHODS
        ):
            return self.binary(node, args)
        if node.target in (torch.flatten, "flatten"):
            return self.flatten(node, args, kwargs)
        if node.op == "call_method" and node.target in ("view", "reshape"):
            return self.reshape(node, args)
        if node.target is torch.reshape:
            return self.reshape(node, (args[0], *args[1:]))
        if node.target in (torch.cat, torch.concat):
            return self.cat(node, args, kwargs)
        if node.op == "call_method" and node.target == "size":
            return None
        self.a.pin((args, kwargs), f"{node.op} {node.target}: slots pinned (unknown operation)")
        return None

    # nodes -----------------------------------------------------------------------------
    def unary(self, node, args, kwargs):
        info = args[0] if args else None
        self.a.pin((args[1:], kwargs))
        shape = _shape(node)
        if not isinstance(info, Info) or shape is None or len(shape) != info.ndim:
            self.a.pin(info)
            return None
        return info

    def binary(self, node, args):
        shape = _shape(node)
        infos = [a for a in args if isinstance(a, Info)]
        if shape is None or not infos:
            self.a.pin(args)
            return None
        first = infos[0]
        out = Info(len(shape), len(shape) - first.ndim + first.dim, first.slots)
        aligned = first.dim - first.ndim
        for arg, raw in zip(args, node.args, strict=False):
            if isinstance(arg, Info):
                if arg is first:
                    continue
                if arg.dim - arg.ndim != aligned or len(arg.slots) != len(first.slots):
                    self.a.pin((arg, first), f"{node}: operands' channels do not line up")
                    return None
                for s, t in zip(first.slots, arg.slots, strict=True):
                    self.a.union(s, t)
            elif isinstance(raw, torch.fx.Node):
                other = _shape(raw)
                if other is None or (len(other) >= -aligned and other[aligned] != 1):
                    self.a.pin(first, f"{node}: a tensor without units is combined per channel")
                    return None
        return out

    def flatten(self, node, args, kwargs):
        info = args[0]
        if not isinstance(info, Info):
            return None
        default_start = 0
        start = args[1] if len(args) > 1 else kwargs.get("start_dim", default_start)
        end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
        return flatten_info(info, _shape(node.args[0]), start, end, len(_shape(node)))

    def reshape(self, node, args):
        info = args[0]
        if not isinstance(info, Info):
            self.a.pin(args)
            return None
        src, dst = _shape(node.args[0]), _shape(node)
        sizes = args[1] if len(args) == 2 and isinstance(args[1], (tuple, list)) else args[1:]
        literal = [s for s in sizes if isinstance(s, int) and s != -1]
        for a in range(len(src)):
            for b in range(a, len(src)):
                merged = src[:a] + (math.prod(src[a : b + 1]),) + src[b + 1 :]
                if merged != dst:
                    continue
                if a <= info.dim <= b and a != b and merged[a] in literal:
                    break
                return flatten_info(info, src, a, b, len(dst))
        self.a.pin(info, f"{node}: a reshape other than a flatten")
        return None

    def cat(self, node, args, kwargs):
        tensors = args[0]
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
        shape = _shape(node)
        if shape is None or not any(isinstance(t, Info) for t in tensors):
            return None
        dim %= len(shape)
        slots: list[int] = []
        for info, raw in zip(tensors, node.args[0], strict=True):
            if isinstance(info, Info) and info.dim == dim and info.ndim == len(shape):
                slots += info.slots
            else:
                self.a.pin(info)
                slots += self.a.new([None] * _shape(raw)[dim], pinned=True)
        return Info(len(shape), dim, tuple(slots))

    def getitem(self, node, args):
        obj, index = args[0], args[1]
        if isinstance(obj, (tuple, list)):
            return obj[index] if isinstance(index, (int, slice)) else None
        if not isinstance(obj, Info):
            return None
        shape, src = _shape(node), _shape(node.args[0])
        mapped = index_info(obj, index, len(src), len(shape)) if shape and src else None
        if mapped is None:
            self.a.pin(obj, f"{node}: a unit dimension is indexed")
        return mapped

    # modules ----------------------------------------------------------------------------
    def module(self, node, module, args, kwargs):
        name = node.target
        x = args[0] if args else None
        shape = _shape(node)
        if isinstance(module, _ACTIVATIONS):
            if isinstance(module, nn.PReLU) and module.num_parameters > 1:
                self.a.pin((args, kwargs))
                return None
            return self.unary(node, args, kwargs)
        if isinstance(module, nn.Flatten):
            return self.flatten(node, (x, module.start_dim, module.end_dim), {})
        if isinstance(module, _POOLS):
            spatial = len(shape) - 1 - (1 if len(shape) > 2 else 0)
            if isinstance(x, Info) and x.dim == len(shape) - spatial - 1:
                return self.unary(node, args, kwargs)
            self.a.pin(x)
            return None
        if isinstance(module, nn.Linear):
            return self.reader_producer(name, x, x.ndim - 1 if isinstance(x, Info) else 0,
                                        module.out_features, shape, len(shape) - 1)  # fmt: skip
        if isinstance(module, nn.modules.conv._ConvNd):
            return self.conv(node, name, module, x, shape)
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            if isinstance(x, Info) and x.dim == 1:
                self.a.attach(x.slots, name, "channel")
                return Info(len(shape), 1, x.slots)
            self.a.pin(x)
            return None
        if isinstance(module, nn.RNNBase):
            return torch_rnn(self.a, node, name, module, args, kwargs)
        if isinstance(module, MaskedRNN):
            return masked_rnn(self.a, node, name, module, args, kwargs)
        if isinstance(module, nn.MultiheadAttention):
            return attention(self.a, node, name, module, args, kwargs)
        self.a.pin((args, kwargs), f"{name}: {type(module).__name__} pins its inputs")
        return None

    def reader_producer(self, name, x, in_dim, out_size, shape, out_dim):
        """A layer reading ``x``'s channels at ``in_dim`` and making ``out_size`` new units."""
        if isinstance(x, Info):
            if x.dim == in_dim:
                self.a.attach(x.slots, name, "in")
            else:
                self.a.pin(x, f"{name}: reads a dimension other than the units'")
        slots = self.a.new([Member(name, "out", k) for k in range(out_size)])
        return Info(len(shape), out_dim, slots)

    def conv(self, node, name, module, x, shape):
        spatial = len(module.kernel_size)
        channel_dim = len(shape) - spatial - 1
        if module.groups == 1 and not isinstance(module, nn.modules.conv._ConvTransposeNd):
            return self.reader_producer(
                name, x, channel_dim, module.out_channels, shape, channel_dim
            )
        depthwise = module.groups == module.in_channels == module.out_channels
        if depthwise and isinstance(x, Info) and x.dim == channel_dim:
            self.a.attach(x.slots, name, "channel")
            return Info(len(shape), channel_dim, x.slots)
        self.a.pin(x, f"{name}: grouped or transposed convolution pins its channels")
        return None
