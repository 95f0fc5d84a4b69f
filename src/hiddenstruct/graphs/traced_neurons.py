"""Neuron- and channel-level structure of a traced model, built by index arithmetic.

:class:`NeuronTracer` walks an fx graph once with *id tensors* in place of activations: every
tensor of the forward pass becomes a LongTensor (with a batch dimension of 1) holding, per
element, the number of the vertex that element is. Weighted layers create new vertices and
record their edges as whole arrays; everything that only moves elements (reshape, flatten,
transpose, slicing, ``cat``…) is simply applied to the id tensor, so neurons map by index
without a rule per op. What each op does:

- ``Linear``: one edge per live weight (per position when applied to a sequence [T, F]).
- ``Conv1d`` / ``Conv2d``: unrolled over output positions with stride, padding (all padding
  modes: padded positions are no vertex, reflected/circular ones are the mirrored input),
  dilation and groups; a zero kernel entry gives no edges (the masks inside kernels).
- ``LSTM`` / ``GRU`` / ``RNN``: one vertex per unit and layer, shared over time steps; an
  i2h edge where the weight is live in any gate (as the models' ``structure_graph``); the
  h2h weights are kept aside as *recurrent* edges (used by the effective-sparsity analysis,
  not part of the acyclic graph).
- ``Embedding``: its output features are source vertices (a lookup table, not connections
  between neurons), shared over positions.
- activations, normalisations and dropout: pass-through, neuron i stays neuron i (no new
  vertex, no weight). LayerNorm, GroupNorm and softmax mix their inputs through statistics;
  the graph still keeps neuron identity (say so where exactness matters).
- pooling (max/avg, adaptive): not unrolled into weights; each output is a new vertex with a
  weightless *structural* edge from every input in its window.
- elementwise ``add``/``sub``/``mul``/``div`` of two tensors (residual additions): a new
  vertex per output element with structural edges from both operands; with a constant it is
  a pass-through. ``mean``/``sum`` over dimensions: structural edges like pooling.
- a folded module: one vertex with structural edges from all its inputs; its outputs are
  that vertex.

At channel granularity the same walk keeps one vertex per channel (dim 1 of [B, C, …]
tensors, the feature of [B, F]): convolutions add an edge (c_in, c_out) where any kernel entry
is live, pooling and flatten keep channel identity, and repeated pairs collapse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import fx, nn

from hiddenstruct.errors import HiddenstructError, UsageError
from hiddenstruct.graphs.fx_trace import (
    leaves,
    module_kind,
    node_kind,
    propagate_shapes,
    split_fold,
)
from hiddenstruct.graphs.traced_index import (
    Ids,
    Tokens,
    adaptive_windows,
    apply_index_op,
    per_dim,
    shaped_like,
    windows,
)

WEIGHT, STRUCTURAL, RECURRENT = 0, 1, 2

# ops that only move elements: applied to the id tensor as they are
INDEX_OPS = {
    "view", "reshape", "flatten", "unflatten", "transpose", "permute", "squeeze", "unsqueeze",
    "getitem", "cat", "concat", "concatenate", "stack", "chunk", "split", "t", "narrow",
    "select", "movedim", "swapaxes", "expand", "expand_as", "repeat", "unbind", "roll", "flip",
}  # fmt: skip
# weightless elementwise (or statistics-only) ops: neuron i stays neuron i
PASS_OPS = {
    "relu", "relu_", "sigmoid", "tanh", "gelu", "silu", "elu", "leaky_relu", "hardtanh",
    "softplus", "mish", "softmax", "log_softmax", "dropout", "layer_norm", "batch_norm",
    "group_norm", "neg", "abs", "exp", "log", "sqrt", "rsqrt", "square", "contiguous",
    "clone", "detach", "float", "double", "half", "to", "type", "clamp", "clip", "pow",
}  # fmt: skip
BINARY_OPS = {"add", "iadd", "radd", "sub", "isub", "rsub", "mul", "imul", "truediv", "div"}
REDUCE_OPS = {"mean", "sum", "amax", "amin"}
SHAPE_OPS = {"size", "dim", "getattr", "numel"}  # read the shape; the batch of 1 is consistent
PASS_MODULES = (
    nn.Identity, nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm,
    nn.LocalResponseNorm, nn.modules.dropout._DropoutNd,
)  # fmt: skip
MIXING_MODULES = (nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm, nn.Softmax, nn.LogSoftmax)
MIXING_OPS = {"softmax", "log_softmax", "layer_norm", "group_norm"}
POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)
ADAPTIVE_POOLS = (
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
)


# layers with a rule of their own: (types, NeuronTracer method)
MODULE_RULES = (
    (nn.Linear, "_linear"),
    ((nn.Conv1d, nn.Conv2d), "_conv"),
    (nn.RNNBase, "_recurrent"),
    (nn.Embedding, "_embedding"),
    ((*POOLS, *ADAPTIVE_POOLS), "_pool"),
    ((nn.Flatten, nn.Unflatten), "_reshape"),
)


class GraphTooLargeError(HiddenstructError):
    """The graph would have more edges than the given limit."""


@dataclass
class Group:
    """A block of consecutive vertices made by one node."""

    start: int
    count: int
    module: str
    kind: str
    layer: int


def _is_activation(module: nn.Module) -> bool:
    return type(module).__module__ == "torch.nn.modules.activation" and not isinstance(
        module, nn.MultiheadAttention
    )


class NeuronTracer:
    """One walk of a GraphModule with id tensors; collects vertices and edge arrays."""

    def __init__(
        self,
        gm: fx.GraphModule,
        example_inputs: tuple,
        *,
        channel: bool = False,
        max_edges: int | None = None,
        weights: bool = False,
        fold=None,
    ) -> None:
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.channel = channel
        self.max_edges = max_edges
        self.keep_values = weights
        self.fold_types, self.fold_names = split_fold(fold)
        self.groups: list[Group] = []
        self.vertices = 0
        self.layer = 0
        self.edges: list[tuple[np.ndarray, ...]] = []  # (src, dst, kind, param, index, value)
        self.edge_count = 0
        self.params: list[str] = []
        self.param_shapes: list[tuple[int, ...]] = []
        self.inputs: list[torch.Tensor] = []  # ids of the float inputs
        self.sources: list[torch.Tensor] = []  # ids of inputs and embeddings
        self.outputs: list[torch.Tensor] = []
        self.mixing: list[str] = []  # nodes whose statistics mix neurons
        propagate_shapes(gm, example_inputs)
        self.example_inputs = example_inputs

    # -- vertices and edges ---------------------------------------------------------------
    def _new(self, shape, node: fx.Node, kind: str, axis: int | None = 0) -> torch.Tensor:
        """New vertices for a tensor of ``shape`` (no batch); returns its ids [1, *shape].

        At channel granularity only ``axis`` gets distinct vertices (expanded elsewhere);
        ``axis=None`` always makes one vertex per element."""
        shape = tuple(shape)
        if self.channel and axis is not None and len(shape) >= 2:
            axis %= len(shape)
            count = shape[axis]
            view = [1] * len(shape)
            view[axis] = count
            ids = torch.arange(self.vertices, self.vertices + count).reshape(view).expand(shape)
        else:
            count = math.prod(shape)
            ids = torch.arange(self.vertices, self.vertices + count).reshape(shape)
        module = node.target if node.op == "call_module" else node.name
        self.groups.append(Group(self.vertices, count, str(module), kind, self.layer))
        self.vertices += count
        return ids.unsqueeze(0)

    def _param(self, name: str, tensor: torch.Tensor) -> int:
        self.params.append(name)
        self.param_shapes.append(tuple(tensor.shape))
        return len(self.params) - 1

    def _check_size(self, extra: int, node: fx.Node) -> None:
        if self.max_edges is not None and self.edge_count + extra > self.max_edges:
            level = "channel" if self.channel else "neuron"
            way_out = "'op'" if self.channel else "'channel' or 'op', a smaller input"
            raise GraphTooLargeError(
                f"the {level}-level graph would exceed max_edges={self.max_edges:,} at "
                f"'{node.name}' (≥ {self.edge_count + extra:,} edges); use granularity="
                f"{way_out}, or raise max_edges"
            )

    def _edges(self, node, src, dst, kind=STRUCTURAL, param=-1, index=None, value=None):
        flat = [None if a is None else a.reshape(-1).numpy() for a in (src, dst, index, value)]
        keep = flat[0] >= 0  # a source < 0 is a padded position: no vertex
        pick = slice(None) if keep.all() else np.flatnonzero(keep)
        if self.channel:  # channel vertices repeat over positions: one row per pair
            kept = np.flatnonzero(keep)
            pairs = flat[0][kept] * max(self.vertices, 1) + flat[1][kept]
            pick = kept[np.unique(pairs, return_index=True)[1]]
        src, dst, index, value = (None if a is None else a[pick] for a in flat)
        self._check_size(len(src), node)
        n = len(src)
        self.edge_count += n
        self.edges.append(
            (
                src.astype(np.int64),
                dst.astype(np.int64),
                np.full(n, kind, np.int8),
                np.full(n, param, np.int32),
                np.full(n, -1, np.int64) if index is None else index.astype(np.int64),
                np.full(n, np.nan) if value is None else value.astype(np.float64),
            )
        )

    def edge_arrays(self) -> tuple[np.ndarray, ...]:
        if not self.edges:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty.astype(np.int8), empty.astype(np.int32), empty, empty * 1.0
        return tuple(np.concatenate(parts) for parts in zip(*self.edges, strict=True))

    def _channels(self, x: Ids, node: fx.Node) -> torch.Tensor:
        """The channel vertices of [1, C, …] ids (channel granularity)."""
        flat = x.t[0].reshape(x.t.shape[1], -1)
        if not bool((flat == flat[:, :1]).all()):
            raise UsageError(
                f"channel granularity: the input of '{node.name}' does not hold one vertex per "
                "channel (dim 1); use granularity='neuron' or 'op' for this model"
            )
        return flat[:, 0]

    # -- the walk ----------------------------------------------------------------------------
    def run(self) -> NeuronTracer:
        env: dict[str, object] = {}
        inputs = iter(self.example_inputs)
        for node in self.gm.graph.nodes:
            args = fx.node.map_arg(node.args, lambda n: env[n.name])
            kwargs = fx.node.map_arg(node.kwargs, lambda n: env[n.name])
            if node.op == "placeholder":
                env[node.name] = self._placeholder(node, next(inputs))
            elif node.op == "get_attr":
                raise UsageError(
                    f"neuron/channel granularity: '{node.name}' reads the tensor "
                    f"'{node.target}' directly in forward; fold the module that does it "
                    "(fold=[...]) or use granularity='op'"
                )
            elif node.op == "call_module":
                self.layer += 1
                env[node.name] = self._module(node, self.modules[node.target], args, kwargs)
            elif node.op in ("call_function", "call_method"):
                env[node.name] = self._function(node, args, kwargs)
            elif node.op == "output":
                self.outputs = [v.t for v in leaves(args[0]) if isinstance(v, Ids)]
        return self

    def _placeholder(self, node: fx.Node, value) -> Ids | Tokens:
        if not isinstance(value, torch.Tensor):
            raise UsageError(f"example input for '{node.name}' must be a tensor")
        if not value.is_floating_point():
            return Tokens(tuple(value.shape[1:]))
        ids = self._new(value.shape[1:], node, "input")
        self.inputs.append(ids)
        self.sources.append(ids)
        return Ids(ids)

    def _out_shape(self, node: fx.Node) -> tuple[int, ...]:
        meta = node.meta.get("tensor_meta")
        return tuple(meta.shape[1:])

    def _module(self, node, module, args, kwargs):
        if node.target in self.fold_names or (
            self.fold_types and isinstance(module, self.fold_types)
        ):
            return self._fold(node, args, kwargs)
        for types, rule in MODULE_RULES:
            if isinstance(module, types):
                return getattr(self, rule)(node, module, args[0])
        if isinstance(module, PASS_MODULES) or _is_activation(module):
            if isinstance(module, MIXING_MODULES):
                self.mixing.append(node.name)
            return args[0]
        raise UsageError(
            f"neuron/channel granularity does not know {module_kind(module)} "
            f"('{node.target}'); fold it (fold=['{node.target}']) or use granularity='op'"
        )

    def _function(self, node, args, kwargs):
        name = node_kind(node, self.modules)
        name = name.strip("_") if name.startswith("__") else name
        ids = [a for a in leaves((args, kwargs)) if isinstance(a, Ids)]
        if not ids:  # shape arithmetic and the like: compute it as is
            fn = getattr(args[0], node.target) if node.op == "call_method" else node.target
            return fn(*args[1:], **kwargs) if node.op == "call_method" else fn(*args, **kwargs)
        if name in SHAPE_OPS or name in INDEX_OPS:
            return apply_index_op(node, args, kwargs)
        if name in PASS_OPS:
            if name in MIXING_OPS:
                self.mixing.append(node.name)
            return ids[0]
        if name in BINARY_OPS:
            return self._binary(node, args, ids)
        if name in REDUCE_OPS:
            return self._reduce(node, args, kwargs)
        raise UsageError(
            f"neuron/channel granularity does not know how '{name}' ('{node.name}') maps "
            "neurons; fold the module that calls it (fold=[...]) or use granularity='op'"
        )

    # -- rules ---------------------------------------------------------------------------------
    def _linear(self, node, module: nn.Linear, x: Ids) -> Ids:
        weight = module.weight.detach().cpu()
        rows = x.t[0].reshape(-1, module.in_features)
        out = self._new((*x.t.shape[1:-1], module.out_features), node, "Linear", axis=-1)
        o, i = weight.nonzero(as_tuple=True)
        self._check_size(rows.shape[0] * len(o), node)
        param = self._param(f"{node.target}.weight", weight)
        index = (o * module.in_features + i).expand(rows.shape[0], -1)
        value = weight[o, i].expand(rows.shape[0], -1) if self.keep_values else None
        dst = out[0].reshape(-1, module.out_features)[:, o]
        self._edges(node, rows[:, i], dst, WEIGHT, param, index, value)
        return Ids(out)

    def _conv(self, node, module, x: Ids) -> Ids:
        n = 1 if isinstance(module, nn.Conv1d) else 2
        weight = module.weight.detach().cpu()
        c_out, c_in_group = weight.shape[:2]
        out_shape = self._out_shape(node)
        out = self._new(out_shape, node, module_kind(module))
        group = torch.arange(c_out) // (c_out // module.groups)
        param = self._param(f"{node.target}.weight", weight)
        if self.channel:
            live = weight.reshape(c_out, c_in_group, -1)
            o, c = live.ne(0).any(2).nonzero(as_tuple=True)
            channels = self._channels(x, node)
            dst = self._channels(Ids(out), node)
            value = live[o, c].abs().sum(1) if self.keep_values else None
            self._edges(node, channels[group[o] * c_in_group + c], dst[o], WEIGHT, param,
                        None, value)  # fmt: skip
            return Ids(out)
        cols = windows(x.t[0], module, n)  # [C_in, K, L]
        kernel = cols.shape[1]
        cols = cols.reshape(-1, cols.shape[2])  # rows ordered (c, k) like weight.flatten(1)
        flat = weight.reshape(c_out, -1)
        o, r = flat.nonzero(as_tuple=True)
        positions = cols.shape[1]
        self._check_size(len(o) * positions, node)
        src = cols[group[o] * c_in_group * kernel + r]
        dst = out[0].reshape(c_out, -1)[o]
        index = (o * flat.shape[1] + r)[:, None].expand(-1, positions)
        value = flat[o, r][:, None].expand(-1, positions) if self.keep_values else None
        self._edges(node, src, dst, WEIGHT, param, index, value)
        return Ids(out)

    def _recurrent(self, node, module: nn.RNNBase, x) -> tuple:
        if module.bidirectional or getattr(module, "proj_size", 0):
            raise UsageError(
                f"'{node.target}': bidirectional or projected recurrent layers are not "
                "supported at neuron/channel granularity; fold it or use granularity='op'"
            )
        if isinstance(x, Tokens):
            raise UsageError(f"'{node.target}' reads integer inputs; embed them first")
        gates = {"LSTM": 4, "GRU": 3}.get(module.mode, 1)
        hidden = module.hidden_size
        layer_in = x.t.reshape(-1, x.t.shape[-1])  # [T, F]: the steps' input vertices
        units = []
        for layer in range(module.num_layers):
            unit = self._new((hidden,), node, module.mode)[0]
            self.groups[-1].module = f"{node.target}.l{layer}"
            for part, kind in (("ih", WEIGHT), ("hh", RECURRENT)):
                name = f"weight_{part}_l{layer}"
                weight = getattr(module, name).detach().cpu()
                param = self._param(f"{node.target}.{name}", weight)
                g, h, i = weight.reshape(gates, hidden, -1).nonzero(as_tuple=True)
                inputs = layer_in if part == "ih" else unit[None]
                index = (g * hidden + h) * weight.shape[1] + i
                value = weight.reshape(gates, hidden, -1)[g, h, i] if self.keep_values else None
                rows = inputs.shape[0]
                self._check_size(rows * len(h), node)
                self._edges(
                    node, inputs[:, i], unit[h].expand(rows, -1), kind, param,
                    index.expand(rows, -1),
                    None if value is None else value.expand(rows, -1),
                )  # fmt: skip
            units.append(unit)
            layer_in = unit[None]
        meta = node.meta["tensor_meta"][0]  # the output sequence
        steps = meta.shape[1] if module.batch_first else meta.shape[0]
        out = units[-1].expand(steps, hidden).unsqueeze(0 if module.batch_first else 1)
        state = Ids(torch.stack(units)[:, None])
        return (Ids(out), (state, state) if module.mode == "LSTM" else state)

    def _embedding(self, node, module: nn.Embedding, x) -> Ids:
        if not isinstance(x, Tokens):
            raise UsageError(f"'{node.target}' (Embedding) must read an integer input")
        features = self._new((module.embedding_dim,), node, "Embedding")[0]
        self.sources.append(features)
        return Ids(features.expand(*x.shape, -1).unsqueeze(0))

    def _pool(self, node, module, x: Ids) -> Ids:
        if getattr(module, "ceil_mode", False):
            raise UsageError(f"'{node.target}': ceil_mode pooling is not supported here")
        out_shape = self._out_shape(node)
        if self.channel:
            channels = self._channels(x, node)
            view = (1, -1) + (1,) * (len(out_shape) - 1)
            return Ids(channels.reshape(view).expand(1, *out_shape))
        out = self._new(out_shape, node, module_kind(module))[0]
        spatial = len(out_shape) - 1
        if isinstance(module, ADAPTIVE_POOLS):
            src, dst = adaptive_windows(x.t[0], out)
        else:
            cols = windows(x.t[0], module, spatial)  # [C, K, L]
            src = cols
            dst = out.reshape(out.shape[0], 1, -1).expand_as(cols)
        self._edges(node, src, dst)
        return Ids(out[None])

    def _reshape(self, node, module, x: Ids) -> Ids:
        return Ids(module(x.t))

    def _binary(self, node, args, ids: list[Ids]) -> Ids:
        if len(ids) == 1:
            return ids[0]
        a, b = torch.broadcast_tensors(ids[0].t, ids[1].t)
        out = self._new(a.shape[1:], node, node_kind(node, self.modules))
        for operand in (a, b):
            self._edges(node, operand, out)
        return Ids(out)

    def _reduce(self, node, args, kwargs) -> Ids:
        x = args[0].t
        dims = kwargs.get("dim", args[1] if len(args) > 1 else None)
        keepdim = kwargs.get("keepdim", args[2] if len(args) > 2 else False)
        dims = tuple(range(1, x.dim())) if dims is None else per_dim(dims, 1)
        dims = tuple(d % x.dim() for d in dims)
        if 0 in dims:
            raise UsageError(f"'{node.name}' reduces over the batch dimension; not a structure")
        kept = [s if d not in dims else 1 for d, s in enumerate(x.shape)]
        out = self._new(kept[1:], node, node_kind(node, self.modules))
        self._edges(node, x, out.expand_as(x))
        if not keepdim:
            out = out.reshape([s for d, s in enumerate(x.shape) if d not in dims])
        return Ids(out)

    def _fold(self, node, args, kwargs) -> object:
        vertex = self._new((1,), node, f"fold:{node.target}", axis=None)[0]
        for x in leaves((args, kwargs)):
            if isinstance(x, Ids):
                self._edges(node, x.t, vertex.expand_as(x.t))
        return shaped_like(node.meta.get("tensor_meta"), vertex)
