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

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.fx
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs.fx_trace import TracingError, propagate_shapes, trace_model
from hiddenstruct.nn.activations import get_activation
from hiddenstruct.nn.attention import CompactMultiheadAttention
from hiddenstruct.nn.ffn import MaskedDeepFFN
from hiddenstruct.nn.rnn import MaskedRNN
from hiddenstruct.nn.units import Entry, entries

# ---------------------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------------------

PRODUCER_AXES = ("out", "hidden", "proj", "head")
KINDS = ("neuron", "channel", "hidden", "head")


@dataclass(frozen=True)
class Member:
    """Unit ``index`` on ``axis`` of module ``module`` (qualified name).

    Axes: ``"out"`` (a Linear's output neuron, a Conv's output channel), ``"in"`` (an input
    column read by the module), ``"channel"`` (a per-channel module on the way: BatchNorm,
    depthwise conv), ``"hidden"`` / ``"hidden<l>"`` (a recurrent hidden unit: all layers of
    a torch RNN, layer ``l`` of a MaskedRNN), ``"proj"`` (a projected unit of an LSTM with
    ``proj_size``) and ``"head"`` (an attention head).
    """

    module: str
    axis: str
    index: int

    @property
    def produces(self) -> bool:
        return self.axis.startswith(PRODUCER_AXES)


@dataclass(frozen=True)
class Group:
    """Units removed together: ``kind`` of unit, ``layer`` (the producing modules, the key
    of per-layer selection) and every member."""

    kind: str
    layer: str
    members: tuple[Member, ...]


@dataclass
class DependencyGraph:
    """The prunable groups of ``model`` (pinned ones excluded) and why others are pinned."""

    model: nn.Module
    groups: list[Group]
    pinned: int = 0
    notes: list[str] = field(default_factory=list)

    def entries(self, group: Group) -> list[tuple[str, Entry]]:
        """``(module name, entry)`` for every tensor entry of ``group``."""
        return [(name, entry) for name, _holder, _tensor, entry in self.located(group)]

    def located(self, group: Group) -> list[tuple[str, nn.Module, str, Entry]]:
        """``(module name, holder module, tensor name, entry)`` for every tensor entry of
        ``group``: the holder owns the tensor (e.g. ``attn.out_proj`` for
        ``out_proj.weight``). Cached per group: scoring and compaction ask many times."""
        if "_located" not in self.__dict__:
            self._located: dict[int, tuple] = {}
            self._modules = dict(self.model.named_modules())
        cache, modules = self._located, self._modules
        if id(group) not in cache:
            out = []
            for m in group.members:
                for entry in entries(modules[m.module], m.axis, m.index):
                    owner, _, tensor = entry.path.rpartition(".")
                    holder = (
                        modules[f"{m.module}.{owner}" if m.module else owner]
                        if owner
                        else (modules[m.module])
                    )
                    out.append((m.module, holder, tensor, entry))
            cache[id(group)] = (group, out)  # the group is kept alive: its id stays unique
        return cache[id(group)][1]


def _kind(module: nn.Module) -> str:
    if isinstance(module, (nn.RNNBase, MaskedRNN)):
        return "hidden"
    if isinstance(module, nn.MultiheadAttention):
        return "head"
    if isinstance(module, nn.modules.conv._ConvNd):
        return "channel"
    return "neuron"


# ---------------------------------------------------------------------------------------
# Tracing
# ---------------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class Info:
    """Slots of one tensor value: ``slots[k]`` is the slot of entry ``k`` along ``dim``."""

    ndim: int
    dim: int
    slots: tuple[int, ...]


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


class _Analysis:
    """Slots (a union-find), the members they carry and the pinned ones, filled per node."""

    def __init__(self, gm: torch.fx.GraphModule) -> None:
        self.gm = gm
        self.parent: list[int] = []
        self.members: list[list[Member]] = []
        self.pinned: set[int] = set()
        self.notes: list[str] = []

    # union-find ------------------------------------------------------------------------
    def new(self, members: Sequence[Member | None], pinned: bool = False) -> tuple[int, ...]:
        out = []
        for m in members:
            slot = len(self.parent)
            self.parent.append(slot)
            self.members.append([m] if m is not None else [])
            if pinned:
                self.pinned.add(slot)
            out.append(slot)
        return tuple(out)

    def find(self, s: int) -> int:
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[b] = a

    def pin(self, info, why: str | None = None) -> None:
        """Pin every slot in ``info`` (an :class:`Info`, or nested tuples/lists of them)."""
        if isinstance(info, Info):
            self.pinned.update(info.slots)
            if why and info.slots:
                self.notes.append(why)
        elif isinstance(info, (tuple, list)):
            for item in info:
                self.pin(item, why)

    def attach(self, slots, module: str, axis: str) -> None:
        for k, s in enumerate(slots):
            self.members[s].append(Member(module, axis, k))

    # groups -------------------------------------------------------------------------------
    def groups(self) -> tuple[list[Group], int]:
        classes: dict[int, list[Member]] = {}
        pinned_roots = {self.find(s) for s in self.pinned}
        for s in range(len(self.parent)):
            classes.setdefault(self.find(s), []).extend(self.members[s])
        out, pinned = [], 0
        for root, members in classes.items():
            producers = [m for m in members if m.produces]
            if not producers:
                continue
            if root in pinned_roots:
                pinned += 1
                continue
            module = self.gm.get_submodule(producers[0].module)
            layer = "+".join(sorted({f"{m.module}:{m.axis}" for m in producers}))
            out.append(Group(_kind(module), layer, tuple(dict.fromkeys(members))))
        return out, pinned


def _infos(value, env):
    """``value`` (a node argument) with nodes replaced by their slot infos."""
    return torch.fx.node.map_arg(value, lambda n: env.get(n))


def _flatten(info: Info, shape, start: int, end: int, out_ndim: int) -> Info:
    start, end = start % len(shape), end % len(shape)
    if info.dim < start:
        return Info(out_ndim, info.dim, info.slots)
    if info.dim > end:
        return Info(out_ndim, info.dim - (end - start), info.slots)
    span = shape[start : end + 1]
    ids = torch.tensor(info.slots).reshape(
        [1] * (info.dim - start) + [len(info.slots)] + [1] * (end - info.dim)
    )
    return Info(out_ndim, start, tuple(ids.expand(*span).reshape(-1).tolist()))


def _index(info: Info, index, in_ndim: int, out_ndim: int) -> Info | None:
    """Where ``info``'s dim goes under ``tensor[index]``; ``None`` if it is indexed itself."""
    index = index if isinstance(index, tuple) else (index,)
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    expanded = []
    for i in index:
        expanded += [slice(None)] * (in_ndim - used) if i is Ellipsis else [i]
    expanded += [slice(None)] * (in_ndim - sum(1 for i in expanded if i is not None))
    src = out = 0
    for i in expanded:
        if i is None:
            out += 1
            continue
        if src == info.dim:
            if i != slice(None):
                return None
            return Info(out_ndim, out, info.slots)
        if isinstance(i, int):
            src += 1
        elif isinstance(i, slice):
            src, out = src + 1, out + 1
        else:
            return None
    return None


class _Propagate:
    """Walk the traced graph once, node by node, filling an :class:`_Analysis`."""

    def __init__(self, gm: torch.fx.GraphModule) -> None:
        self.gm = gm
        self.a = _Analysis(gm)
        self.env: dict[torch.fx.Node, object] = {}

    def run(self) -> _Analysis:
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
        return _flatten(info, _shape(node.args[0]), start, end, len(_shape(node)))

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
                return _flatten(info, src, a, b, len(dst))
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
        mapped = _index(obj, index, len(src), len(shape)) if shape and src else None
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
            return self.torch_rnn(node, name, module, args, kwargs)
        if isinstance(module, MaskedRNN):
            return self.masked_rnn(node, name, module, args, kwargs)
        if isinstance(module, nn.MultiheadAttention):
            return self.attention(node, name, module, args, kwargs)
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

    def torch_rnn(self, node, name, module, args, kwargs):
        x, hidden = args[0], module.hidden_size
        shapes = node.meta.get("tensor_meta")
        hx = args[1] if len(args) > 1 else kwargs.get("hx")
        pinned = module.bidirectional or len(node.args) > 1 or node.kwargs.get("hx") is not None
        if pinned:
            self.a.pin((x, hx), f"{name}: a bidirectional RNN or one given hx is pinned")
        cells = self.a.new([Member(name, "hidden", k) for k in range(hidden)], pinned=pinned)
        slots = cells
        if module.proj_size:
            units = range(module.proj_size)
            slots = self.a.new([Member(name, "proj", k) for k in units], pinned=pinned)
        if isinstance(x, Info) and x.dim == x.ndim - 1 and not pinned:
            self.a.attach(x.slots, name, "in")
        else:
            self.a.pin(x)
        if module.bidirectional or not hasattr(shapes[0], "shape"):  # e.g. a PackedSequence
            self.a.pin([Info(0, 0, cells), Info(0, 0, slots)], f"{name}: output not a tensor")
            return (None, None)
        out_ndim = len(shapes[0].shape)
        h_meta = shapes[1] if hasattr(shapes[1], "shape") else shapes[1][0]
        h_ndim = len(h_meta.shape)
        out = Info(out_ndim, out_ndim - 1, slots)
        h = Info(h_ndim, h_ndim - 1, slots)
        return (out, (h, Info(h_ndim, h_ndim - 1, cells)) if module.mode == "LSTM" else h)

    def masked_rnn(self, node, name, module, args, kwargs):
        x = args[0]
        hx_given = len(node.args) > 2 or node.kwargs.get("hx") is not None
        layers = []
        for layer_index, layer in enumerate(module.layers):
            members = [Member(name, f"hidden{layer_index}", k) for k in range(layer.hidden_size)]
            layers.append(self.a.new(members, pinned=hx_given))
        if isinstance(x, Info) and x.dim == x.ndim - 1 and not hx_given:
            self.a.attach(x.slots, name, "in")
        else:
            self.a.pin(x)
        self.a.pin((args[1:], kwargs))
        states = []
        for slots in layers:
            h = Info(2, 1, slots)
            states.append((h, h) if module.spec.has_cell else h)
        return (Info(3, 2, layers[-1]), states)

    def attention(self, node, name, module, args, kwargs):
        self.a.pin((args, kwargs))
        reads_weights = any(
            u.target is operator.getitem and u.args[1] != 0 and u.users for u in node.users
        )
        plain = module.bias_k is None and not module.add_zero_attn
        members = [Member(name, "head", h) for h in range(module.num_heads)]
        self.a.new(members, pinned=reads_weights or not plain)
        return (None, None)


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
    analysis = _Propagate(gm).run()
    groups, pinned = analysis.groups()
    return DependencyGraph(model, groups, pinned, list(dict.fromkeys(analysis.notes)))
