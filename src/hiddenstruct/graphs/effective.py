"""Effective sparsity (Vysogorets & Kempe, JMLR 2023): live weights on an input→output path.

A live weight (weight ⊙ mask ≠ 0) is *effective* when it lies on at least one path of live
weights from an input to an output: its source neuron is reachable from an input and its
target reaches an output. The analysis runs on the neuron-level walk of the traced model
(:class:`~hiddenstruct.graphs.traced_neurons.NeuronTracer`: Linear, Conv1d/Conv2d unrolled,
LSTM/GRU/RNN with their recurrent weights, pooling and residual additions as weightless
connections), so a convolution kernel entry is effective when any of its unrolled uses is.

- ``effective_weights(model, example_inputs)`` → ``{tensor name: bool mask}``.
- ``effective_sparsity(model, example_inputs)`` → per-tensor and total nominal vs effective ξ
  (ξ = fraction of non-zeros, the paper's sparsity measure).
- ``prune_ineffective(model, example_inputs)`` zeroes (and masks, where masked) the weights
  that cannot change the output.

Which tensors: the prunable ones (:func:`hiddenstruct.sparsity.prunable_tensors`, the rows of
``sparsity_report``), chosen by ``scope=`` as in pruning. Paths run through the whole model
whatever the scope — a tensor out of scope still connects the others — scope only chooses
the tensors reported (and pruned). A tensor in scope that the forward never reads lies on
no path: it is reported with no effective weight and left alone by ``prune_ineffective``.
A masked ``Embedding`` weight entry (token, feature) is effective when its feature reaches
an output; other tensors the walk does not follow as connections (a masked bias, say) are
a ``UsageError`` naming them.

Biases: a neuron without live input still emits the constant σ(b). Its outgoing weights lie
on no input→output path, so they count as ineffective in the report (the paper's
definition), but ``prune_ineffective`` removes such a weight only when the value it reads is
zero (measured in one forward pass; the value is constant because no input reaches it).
Otherwise it keeps the weight, so the outputs stay the same. Folding the constant into the
next layer's bias would be exact for a Linear consumer but not for a padded convolution (the
constant meets zero padding at the borders), so we keep one rule that is exact for both.

Our own ``MaskedDeepFFN`` and ``GraphNet`` need no example input (their connections are
known; for GraphNet ``prune_ineffective`` removes only weights whose target reaches no
output, since its hidden activations are not recorded); other models are traced and need
one. The recurrent models (``MaskedRNN``, ``GraphRNN``, ``SequenceClassifier``) are not
fx-traceable: put their layers in an ``nn.LSTM``/``nn.GRU`` model to analyse them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs.fx_trace import evaluating, trace_model
from hiddenstruct.graphs.traced import as_inputs
from hiddenstruct.graphs.traced_neurons import NeuronTracer
from hiddenstruct.nn.ffn import MaskedDeepFFN
from hiddenstruct.nn.graphnet import GraphNet
from hiddenstruct.sparsity.tensors import PrunableTensor, ScopeSpec, prunable_tensors

# the walk keeps its arrays only (no networkx graph), so it may be larger than to_graph's
ANALYSIS_MAX_EDGES = 20_000_000


@dataclass(frozen=True)
class EffectiveLayer:
    """One weight tensor: all entries, live (nominal non-zeros) and effective ones."""

    name: str
    weights: int
    live: int
    effective: int

    @property
    def nominal_fraction(self) -> float:
        return self.live / self.weights if self.weights else float("nan")

    @property
    def effective_fraction(self) -> float:
        return self.effective / self.weights if self.weights else float("nan")


@dataclass(frozen=True)
class EffectiveSparsityReport:
    """Nominal vs effective ξ per weight tensor and in total; ``str()`` is a table."""

    layers: tuple[EffectiveLayer, ...]

    @property
    def total(self) -> EffectiveLayer:
        return EffectiveLayer(
            "total",
            sum(layer.weights for layer in self.layers),
            sum(layer.live for layer in self.layers),
            sum(layer.effective for layer in self.layers),
        )

    def to_rows(self) -> list[dict]:
        return [
            {
                "layer": layer.name,
                "weights": layer.weights,
                "live": layer.live,
                "effective": layer.effective,
                "nominal_nonzero_fraction": layer.nominal_fraction,
                "effective_nonzero_fraction": layer.effective_fraction,
            }
            for layer in (*self.layers, self.total)
        ]

    def __str__(self) -> str:
        rows = (*self.layers, self.total)
        width = max(len(layer.name) for layer in rows)
        lines = [
            f"{'layer':<{width}}  {'weights':>10}  {'live':>10}  {'effective':>10}  "
            f"{'ξ nominal':>10}  {'ξ effective':>11}"
        ]
        for layer in rows:
            lines.append(
                f"{layer.name:<{width}}  {layer.weights:>10}  {layer.live:>10}  "
                f"{layer.effective:>10}  {layer.nominal_fraction:>10.5f}  "
                f"{layer.effective_fraction:>11.5f}"
            )
        return "\n".join(lines)


@dataclass
class _Analysis:
    """Weighted connections as arrays: ``src → dst`` vertex numbers, the parameter (``param``,
    an index into ``keys``) and flat entry (``index``) behind each; −1 for weightless ones."""

    src: np.ndarray
    dst: np.ndarray
    param: np.ndarray
    index: np.ndarray
    keys: list[tuple[int, str]]  # (id(module), tensor name) of each parameter
    modules: list[nn.Module]  # the module holding each of them
    shapes: list[tuple[int, ...]]
    reached: np.ndarray  # vertex reachable from an input
    reaching: np.ndarray  # vertex reaches an output
    mixing: list[str]  # nodes whose statistics mix neurons
    measured_reads: bool  # can prune_ineffective read the inputs of the weighted modules?
    inputs: tuple | None = None  # what the walk ran on (prune_ineffective's forward)
    read: frozenset[int] = frozenset()  # ids of the modules the forward reads


def _view(model: nn.Module, example_inputs):
    """(model to trace, inputs): our MaskedDeepFFN as the Sequential it computes."""
    if isinstance(model, MaskedDeepFFN):
        parts: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
        for i, layer in enumerate(model.layers):
            parts.append((f"layer{i}", layer))
            if i < len(model.layers) - 1:
                if model.layer_norm:
                    parts.append((f"norm{i}", model.norms[i]))
                parts.append((f"act{i}", nn.Identity()))  # elementwise: neuron i stays i
        weight = model.layers[0].weight
        inputs = example_inputs
        if inputs is None:
            inputs = torch.zeros(1, *model.input_shape, device=weight.device, dtype=weight.dtype)
        return nn.Sequential(OrderedDict(parts)), as_inputs(inputs)
    if example_inputs is None:
        raise UsageError(
            f"effective sparsity of {type(model).__name__} needs example_inputs (a batch the "
            "model accepts, e.g. torch.zeros(1, 1, 28, 28)) to trace it"
        )
    return model, as_inputs(example_inputs)


def _reach(n: int, start: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Vertices reachable from ``start`` along src→dst edges (frontier by frontier)."""
    reached = np.zeros(n, bool)
    reached[start] = True
    frontier = reached.copy()
    while frontier.any():
        hit = dst[frontier[src]]
        new = hit[~reached[hit]]
        frontier = np.zeros(n, bool)
        frontier[new] = True
        reached[new] = True
    return reached


def _graphnet_analysis(net) -> _Analysis:
    """GraphNet's connections: inputs → layer 0 (input_layer), DAG edges, readout → outputs."""
    features, hidden, outputs = net.input_features, len(net.vertices), net.output_size
    parts = []  # (src, dst, index) per parameter
    w = net.input_layer.weight.detach().cpu()
    rows, cols = w.nonzero(as_tuple=True)
    parts.append((cols, features + rows, rows * w.shape[1] + cols))
    live = (net.edges.weight.detach().cpu() != 0).nonzero(as_tuple=True)[0]
    parts.append((features + net.edge_src.cpu()[live], features + net.edge_dst.cpu()[live], live))
    w = net.readout.weight.detach().cpu()
    rows, cols = w.nonzero(as_tuple=True)
    parts.append((features + net.readout_index.cpu()[cols], features + hidden + rows,
                  rows * w.shape[1] + cols))  # fmt: skip
    modules = [net.input_layer, net.edges, net.readout]
    src, dst, index = (np.concatenate([p[k].numpy() for p in parts]) for k in range(3))
    param = np.concatenate([np.full(len(p[0]), k) for k, p in enumerate(parts)])
    n, ends = features + hidden + outputs, np.arange(features + hidden, features + hidden + outputs)
    return _Analysis(
        src, dst, param, index, [(id(m), "weight") for m in modules], modules,
        [tuple(m.weight.shape) for m in modules], _reach(n, np.arange(features), src, dst),
        _reach(n, ends, dst, src), [], False, None, frozenset(id(m) for m in modules),
    )  # fmt: skip


def _read_modules(gm: torch.fx.GraphModule) -> frozenset[int]:
    """Ids of the modules the traced forward calls (with their submodules) or reads from."""
    read: set[int] = set()
    for node in gm.graph.nodes:
        if node.op == "call_module":
            read.update(id(m) for m in gm.get_submodule(node.target).modules())
        elif node.op == "get_attr":
            read.add(id(gm.get_submodule(node.target.rpartition(".")[0])))
    return frozenset(read)


def _embedding_edges(tracer: NeuronTracer, modules: dict[str, nn.Module], wanted) -> list:
    """``(module, src, dst, index)`` for every Embedding in ``wanted`` the walk met: entry
    (token, feature) as a self-loop on the feature's vertex (an input of the walk), so that
    it is effective exactly when the feature reaches an output."""
    out = []
    for group in tracer.groups:
        module = modules.get(group.module)
        if group.kind != "Embedding" or (id(module), "weight") not in wanted:
            continue
        weight = module.weight.detach().cpu()
        token, feature = weight.nonzero(as_tuple=True)
        vertex = (group.start + feature).numpy()
        out.append((module, vertex, vertex, (token * weight.shape[1] + feature).numpy()))
    return out


def _analyse(model: nn.Module, example_inputs, wanted: set[tuple[int, str]]) -> _Analysis:
    """The walk of ``model``; ``wanted``: the tensors to report, as ``(id(module), name)``."""
    if isinstance(model, GraphNet):
        return _graphnet_analysis(model)
    traced, inputs = _view(model, example_inputs)
    gm = trace_model(traced)
    with torch.no_grad():
        tracer = NeuronTracer(gm, inputs, max_edges=ANALYSIS_MAX_EDGES).run()
    modules_of = dict(gm.named_modules())
    keys: list[tuple[int, str]] = []
    modules: list[nn.Module] = []
    shapes: list[tuple[int, ...]] = []
    slot_of: dict[tuple[int, str], int] = {}

    def slot(module: nn.Module, tensor: str, shape) -> int:  # a module used twice: one slot
        key = (id(module), tensor)
        if key not in slot_of:
            slot_of[key] = len(keys)
            keys.append(key)
            modules.append(module)
            shapes.append(tuple(shape))
        return slot_of[key]

    slots = [
        slot(modules_of[full.rpartition(".")[0]], full.rpartition(".")[2], shape)
        for full, shape in zip(tracer.params, tracer.param_shapes, strict=True)
    ]
    src, dst, _kind, param, index, _value = tracer.edge_arrays()
    param = np.asarray([*slots, -1])[param]  # weightless (−1) stays −1
    starts = np.concatenate([s.reshape(-1).numpy() for s in tracer.sources] or [np.zeros(0, int)])
    ends = np.concatenate([o.reshape(-1).numpy() for o in tracer.outputs] or [np.zeros(0, int)])
    reached = _reach(tracer.vertices, starts, src, dst)
    reaching = _reach(tracer.vertices, ends, dst, src)
    for module, e_src, e_dst, e_index in _embedding_edges(tracer, modules_of, wanted):
        k = slot(module, "weight", module.weight.shape)
        src, dst = np.concatenate([src, e_src]), np.concatenate([dst, e_dst])
        param = np.concatenate([param, np.full(len(e_src), k)])
        index = np.concatenate([index, e_index])
    return _Analysis(
        src, dst, param, index, keys, modules, shapes, reached, reaching, tracer.mixing, True,
        inputs, _read_modules(gm),
    )  # fmt: skip


def _per_param(analysis: _Analysis, select: np.ndarray) -> list[np.ndarray]:
    """For each parameter, a flat bool array: entries with at least one selected edge."""
    out = []
    for p, shape in enumerate(analysis.shapes):
        flags = np.zeros(int(np.prod(shape)), bool)
        flags[analysis.index[select & (analysis.param == p)]] = True
        out.append(flags)
    return out


def _effective(analysis: _Analysis) -> list[np.ndarray]:
    return _per_param(analysis, analysis.reached[analysis.src] & analysis.reaching[analysis.dst])


def _scoped(
    model: nn.Module, example_inputs, scope: ScopeSpec
) -> tuple[_Analysis, list[tuple[PrunableTensor, int | None]]]:
    """The walk and, per tensor in scope (module order), its parameter in the walk (None:
    the forward never reads it)."""
    tensors = prunable_tensors(model, scope)
    analysis = _analyse(
        model, example_inputs, {(id(t.module), t.tensor_name) for t in tensors.values()}
    )
    where = {key: p for p, key in enumerate(analysis.keys)}
    rows = [(t, where.get((id(t.module), t.tensor_name))) for t in tensors.values()]
    unfollowed = [t.name for t, p in rows if p is None and id(t.module) in analysis.read]
    if unfollowed:
        raise UsageError(
            f"effective sparsity follows the weights of Linear, Conv1d/Conv2d, recurrent "
            f"layers and Embedding, not {', '.join(unfollowed)}; choose a scope without "
            f"{'it' if len(unfollowed) == 1 else 'them'} (scope=[...] of "
            f"{', '.join(t.name for t, p in rows if p is not None) or 'no tensor'})"
        )
    return analysis, rows


def _in_rows(rows, flags: list[np.ndarray]) -> list[np.ndarray]:
    """Per row, the flags of its parameter (none set for a tensor the forward never reads)."""
    return [flags[p] if p is not None else np.zeros(t.numel, bool) for t, p in rows]


def effective_weights(
    model: nn.Module, example_inputs=None, scope: ScopeSpec = None
) -> dict[str, torch.Tensor]:
    """``{tensor name: bool mask}`` of the tensors in ``scope``: live weights on at least
    one input→output path."""
    analysis, rows = _scoped(model, example_inputs, scope)
    effective = _in_rows(rows, _effective(analysis))
    return {
        t.name: torch.from_numpy(flags).reshape(t.raw_weight.shape)
        for (t, _p), flags in zip(rows, effective, strict=True)
    }


def _report(rows, effective: list[np.ndarray]) -> EffectiveSparsityReport:
    return EffectiveSparsityReport(
        tuple(
            EffectiveLayer(
                t.name, t.numel, int(torch.count_nonzero(t.masked_weight)), int(flags.sum())
            )
            for (t, _p), flags in zip(rows, effective, strict=True)
        )
    )


def effective_sparsity(
    model: nn.Module, example_inputs=None, scope: ScopeSpec = None
) -> EffectiveSparsityReport:
    """Nominal vs effective ξ (fraction of non-zeros) per tensor in ``scope`` and in total."""
    analysis, rows = _scoped(model, example_inputs, scope)
    return _report(rows, _in_rows(rows, _effective(analysis)))


def _inputs_seen(analysis: _Analysis, model: nn.Module) -> dict[int, torch.Tensor]:
    """The first sample's input of every analysed module, from one forward pass (None for
    a module called more than once: its reads are not measured)."""
    seen: dict[int, torch.Tensor | None] = {}
    handles = []
    for module in analysis.modules:

        def hook(mod, args, seen=seen):
            seen[id(mod)] = None if id(mod) in seen else args[0][0].detach().cpu()

        handles.append(module.register_forward_pre_hook(hook))
    try:
        with evaluating(model):  # dropout off: the constants as inference sees them
            model(*analysis.inputs)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def _zero_reads(tensor: str, module: nn.Module, x: torch.Tensor | None, shape) -> np.ndarray:
    """Per weight entry: does the input slice it reads hold only zeros?"""
    if (
        x is None
        or isinstance(module, nn.Embedding)
        or tensor.startswith("weight_hh")
        or (tensor.startswith("weight_ih") and not tensor.endswith("_l0"))
    ):
        return np.zeros(int(np.prod(shape)), bool)  # not measured: never removed by source
    if isinstance(module, nn.Conv1d | nn.Conv2d):
        zero = (x.reshape(x.shape[0], -1) == 0).all(1)  # per input channel
        c_out, c_in_group = shape[:2]
        group = torch.arange(c_out) // (c_out // module.groups)
        channel = group[:, None] * c_in_group + torch.arange(c_in_group)[None]
        flags = zero[channel][..., None].expand(c_out, c_in_group, int(np.prod(shape[2:])))
    else:  # Linear, recurrent input weights: the last dimension is the feature
        zero = (x.reshape(-1, x.shape[-1]) == 0).all(0)
        flags = zero[None].expand(shape[0], -1)
    return flags.reshape(-1).cpu().numpy()


def prune_ineffective(
    model: nn.Module, example_inputs=None, scope: ScopeSpec = None
) -> EffectiveSparsityReport:
    """Remove the weights of the tensors in ``scope`` that cannot change ``model``'s output;
    returns the report before.

    Removed: live weights off every input→output path whose target reaches no output, or
    whose source has no live input and reads only zeros. Masked parameters get the removal in
    their mask; unmasked ones are zeroed in place. Refused for models whose normalisation
    mixes neurons (LayerNorm, GroupNorm, softmax, BatchNorm in training mode), where a neuron
    off every path still shifts the statistics of the others.
    """
    analysis, rows = _scoped(model, example_inputs, scope)
    mixing = analysis.mixing + [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._NormBase) and m.training
    ]
    if mixing:
        raise UsageError(
            f"prune_ineffective: {', '.join(mixing[:3])} mix neurons through statistics "
            "(normalisation, softmax, or BatchNorm in training mode: call model.eval()), so "
            "removing weights off every path could change the output; use effective_weights "
            "to inspect instead"
        )
    effective = _effective(analysis)
    to_live_target = _per_param(analysis, analysis.reaching[analysis.dst])
    from_live_source = _per_param(analysis, analysis.reached[analysis.src])
    seen = _inputs_seen(analysis, model) if analysis.measured_reads else {}
    report = _report(rows, _in_rows(rows, effective))
    for t, p in rows:
        if p is None:  # the forward never reads it: left alone
            continue
        shape = analysis.shapes[p]
        zero_reads = _zero_reads(t.tensor_name, t.module, seen.get(id(t.module)), shape)
        removable = ~effective[p] & (~to_live_target[p] | (~from_live_source[p] & zero_reads))
        if not removable.any():
            continue
        keep = torch.from_numpy(~removable).reshape(shape)
        if t.is_masked:
            t.set_mask(t.current_mask.bool().cpu() & keep)
        else:
            with torch.no_grad():
                weight = t.raw_weight
                weight.mul_(keep.to(weight.device, weight.dtype))
    return report
