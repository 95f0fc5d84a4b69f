"""Effective sparsity (Vysogorets & Kempe, JMLR 2023): live weights on an input→output path.

A live weight (weight ⊙ mask ≠ 0) is *effective* when it lies on at least one path of live
weights from an input to an output: its source neuron is reachable from an input and its
target reaches an output. The analysis runs on the neuron-level walk of the traced model
(:class:`~hiddenstruct.graphs.traced_neurons.NeuronTracer`: Linear, Conv1d/Conv2d unrolled,
LSTM/GRU/RNN with their recurrent weights, pooling and residual additions as weightless
connections), so a convolution kernel entry is effective when any of its unrolled uses is.

- ``effective_weights(model, example_inputs)`` → ``{parameter name: bool mask}``.
- ``effective_sparsity(model, example_inputs)`` → per-layer and total nominal vs effective ξ
  (ξ = fraction of non-zeros, the paper's sparsity measure).
- ``prune_ineffective(model, example_inputs)`` zeroes (and masks, where masked) the weights
  that cannot change the output.

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
from hiddenstruct.nn.masking import apply_mask, get_mask, original

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
    an index into ``names``) and flat entry (``index``) behind each; −1 for weightless ones."""

    src: np.ndarray
    dst: np.ndarray
    param: np.ndarray
    index: np.ndarray
    names: list[str]  # the model's qualified parameter names
    modules: list[nn.Module]  # the module holding each of them
    shapes: list[tuple[int, ...]]
    reached: np.ndarray  # vertex reachable from an input
    reaching: np.ndarray  # vertex reaches an output
    mixing: list[str]  # nodes whose statistics mix neurons
    measured_reads: bool  # can prune_ineffective read the inputs of the weighted modules?


def _view(model: nn.Module, example_inputs):
    """(model to trace, inputs): our MaskedDeepFFN as the Sequential it computes."""
    from hiddenstruct.nn.ffn import MaskedDeepFFN

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


def _finish(n, src, dst, param, index, names, modules, shapes, starts, ends, mixing, measured):
    return _Analysis(
        src, dst, param, index, names, modules, shapes,
        _reach(n, starts, src, dst), _reach(n, ends, dst, src), mixing, measured,
    )  # fmt: skip


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
    names = ["input_layer.weight", "edges.weight", "readout.weight"]
    src, dst, index = (np.concatenate([p[k].numpy() for p in parts]) for k in range(3))
    param = np.concatenate([np.full(len(p[0]), k) for k, p in enumerate(parts)])
    return _finish(
        features + hidden + outputs, src, dst, param, index, names, modules,
        [tuple(m.weight.shape) for m in modules], np.arange(features),
        np.arange(features + hidden, features + hidden + outputs), [], False,
    )  # fmt: skip


def _analyse(model: nn.Module, example_inputs) -> _Analysis:
    from hiddenstruct.nn.graphnet import GraphNet

    if isinstance(model, GraphNet):
        return _graphnet_analysis(model)
    traced, inputs = _view(model, example_inputs)
    gm = trace_model(traced)
    with torch.no_grad():
        tracer = NeuronTracer(gm, inputs, max_edges=ANALYSIS_MAX_EDGES).run()
    names_of = {id(m): name for name, m in model.named_modules()}
    view_modules = dict(traced.named_modules())
    names, modules = [], []
    for full in tracer.params:
        module_name, _, tensor = full.rpartition(".")
        module = view_modules[module_name]
        prefix = names_of[id(module)]
        names.append(f"{prefix}.{tensor}" if prefix else tensor)
        modules.append(module)
    src, dst, _kind, param, index, _value = tracer.edge_arrays()
    starts = np.concatenate([s.reshape(-1).numpy() for s in tracer.sources] or [np.zeros(0, int)])
    ends = np.concatenate([o.reshape(-1).numpy() for o in tracer.outputs] or [np.zeros(0, int)])
    return _finish(
        tracer.vertices, src, dst, param, index, names, modules, tracer.param_shapes,
        starts, ends, tracer.mixing, True,
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


def effective_weights(model: nn.Module, example_inputs=None) -> dict[str, torch.Tensor]:
    """``{parameter name: bool mask}``: live weights on at least one input→output path."""
    analysis = _analyse(model, example_inputs)
    return {
        name: torch.from_numpy(flags).reshape(shape)
        for name, flags, shape in zip(
            analysis.names, _effective(analysis), analysis.shapes, strict=True
        )
    }


def _report(analysis: _Analysis, effective: list[np.ndarray]) -> EffectiveSparsityReport:
    layers = []
    for name, module, flags in zip(analysis.names, analysis.modules, effective, strict=True):
        tensor = getattr(module, name.rpartition(".")[2]).detach()
        layers.append(
            EffectiveLayer(name, tensor.numel(), int(torch.count_nonzero(tensor)), int(flags.sum()))
        )
    return EffectiveSparsityReport(tuple(layers))


def effective_sparsity(model: nn.Module, example_inputs=None) -> EffectiveSparsityReport:
    """Nominal vs effective ξ (fraction of non-zeros) per weight tensor and in total."""
    analysis = _analyse(model, example_inputs)
    return _report(analysis, _effective(analysis))


def _inputs_seen(analysis: _Analysis, model: nn.Module, inputs) -> dict[int, torch.Tensor]:
    """The first sample's input of every analysed module, from one forward pass."""
    seen: dict[int, torch.Tensor] = {}
    handles = []
    for module in analysis.modules:

        def hook(mod, args, seen=seen):
            seen[id(mod)] = args[0][0].detach().cpu()

        handles.append(module.register_forward_pre_hook(hook))
    try:
        with evaluating(model):  # dropout off: the constants as inference sees them
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def _zero_reads(name: str, module: nn.Module, x: torch.Tensor | None, shape) -> np.ndarray:
    """Per weight entry: does the input slice it reads hold only zeros?"""
    tensor = name.rpartition(".")[2]
    if (
        x is None
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


def prune_ineffective(model: nn.Module, example_inputs=None) -> EffectiveSparsityReport:
    """Remove the weights that cannot change ``model``'s output; returns the report before.

    Removed: live weights off every input→output path whose target reaches no output, or
    whose source has no live input and reads only zeros. Masked parameters get the removal in
    their mask; unmasked ones are zeroed in place. Refused for models whose normalisation
    mixes neurons (LayerNorm, GroupNorm, softmax, BatchNorm in training mode), where a neuron
    off every path still shifts the statistics of the others.
    """
    analysis = _analyse(model, example_inputs)
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
    seen: dict[int, torch.Tensor] = {}
    if analysis.measured_reads:
        _view_model, inputs = _view(model, example_inputs)
        seen = _inputs_seen(analysis, model, inputs)
    report = _report(analysis, effective)
    for p, (name, module) in enumerate(zip(analysis.names, analysis.modules, strict=True)):
        shape = analysis.shapes[p]
        tensor = name.rpartition(".")[2]
        zero_reads = _zero_reads(name, module, seen.get(id(module)), shape)
        removable = ~effective[p] & (~to_live_target[p] | (~from_live_source[p] & zero_reads))
        if not removable.any():
            continue
        keep = torch.from_numpy(~removable).reshape(shape)
        mask = get_mask(module, tensor)
        if mask is not None:
            apply_mask(module, tensor, mask.bool().cpu() & keep)
        else:
            with torch.no_grad():
                weight = original(module, tensor)
                weight.mul_(keep.to(weight.device, weight.dtype))
    return report
