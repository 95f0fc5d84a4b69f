"""Compaction of any traceable model: physically remove the units nobody reads.

A unit group (:mod:`hiddenstruct.nn.dependency`) whose *reader* entries — the input
columns of every layer reading it, a recurrent unit's column of ``W_hh``, an attention
head's columns of ``out_proj`` — are all masked contributes nothing to any output, so
removing it (its rows, its per-channel BatchNorm entries, its biases, those columns) is
exact. :func:`hiddenstruct.pruning.prune_structured` masks whole groups, so what it prunes
is removed here. The result is a copy of the model with the same classes (nn.Linear,
nn.Conv2d, nn.BatchNorm2d, nn.GRU, nn.LSTM, :class:`MaskedRNN` …; a MultiheadAttention
that lost heads becomes a :class:`~hiddenstruct.nn.attention.CompactMultiheadAttention`),
masks that still mask entries kept (sliced), all-ones masks dropped.
Its outputs on ``example_inputs`` are checked against the masked model's before it is returned.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from hiddenstruct.graphs.fx_trace import evaluating, output_tensors
from hiddenstruct.nn.attention import CompactMultiheadAttention
from hiddenstruct.nn.dependency import DependencyGraph, Group, dependency_graph
from hiddenstruct.nn.masking import (
    apply_mask,
    get_mask,
    is_masked,
    masked_modules,
    original,
    remove_mask,
)
from hiddenstruct.nn.rnn import MaskedRNN
from hiddenstruct.nn.units import GATES

TOLERANCE = 1e-5
"""Largest output difference (relative to the output's scale, at least 1) compaction accepts."""


def removable(graph: DependencyGraph, group: Group, read: dict | None = None) -> bool:
    """Whether every reader entry of ``group`` is masked (and it has one). ``read`` caches,
    per tensor and dimension, which indices any unmasked entry reads."""
    read = {} if read is None else read
    readers = [item for item in graph.located(group) if item[3].reader]
    for _module, holder, name, entry in readers:
        key = (id(holder), name, entry.dim)
        if key not in read:
            mask = get_mask(holder, name)
            rows = None if mask is None else mask.movedim(entry.dim, 0).flatten(1).any(1)
            read[key] = None if rows is None else rows.tolist()
        if read[key] is None or any(read[key][i] for i in entry.index):
            return False
    return bool(readers)


def _removals(graph: DependencyGraph) -> dict[str, dict]:
    """``module -> {"axes": {axis: removed units}, "tensors": {(path, dim): removed entries}}``."""
    plan: dict[str, dict] = {}
    read: dict = {}
    for group in graph.groups:
        if not removable(graph, group, read):
            continue
        for member in group.members:
            item = plan.setdefault(member.module, {"axes": {}, "tensors": {}})
            item["axes"].setdefault(member.axis, set()).add(member.index)
        for module_name, entry in graph.entries(group):
            tensors = plan[module_name]["tensors"]
            tensors.setdefault((entry.path, entry.dim), set()).update(entry.index)
    return plan


def _slice_module(module: nn.Module, tensors: dict) -> None:
    """Remove the entries ``tensors`` ``{(path, dim): indices}`` from ``module``'s tensors in
    place (masks sliced along), then fix the size attributes."""
    masks, removed = {}, {}
    for (path, dim), index in tensors.items():
        removed.setdefault(path, []).append((dim, sorted(index)))
    for path in removed:
        owner, _, name = path.rpartition(".")
        holder = module.get_submodule(owner) if owner else module
        if is_masked(holder, name):
            masks[path] = get_mask(holder, name).detach().clone()
            remove_mask(holder, name, permanent=False)
    for path, cuts in removed.items():
        owner, _, name = path.rpartition(".")
        holder = module.get_submodule(owner) if owner else module
        value = getattr(holder, name).detach()
        mask = masks.get(path)
        for dim, index in cuts:
            keep = _keep(value.shape[dim], index, value.device)
            value = value.index_select(dim, keep)
            mask = None if mask is None else mask.index_select(dim, keep.to(mask.device))
        if name in holder._parameters:
            old = holder._parameters[name]
            setattr(holder, name, nn.Parameter(value.clone(), requires_grad=old.requires_grad))
        else:
            holder._buffers[name] = value.clone()
        if mask is not None:
            apply_mask(holder, name, mask)
    _fix_sizes(module)


def _keep(size: int, removed: list[int], device) -> torch.Tensor:
    gone = set(removed)
    return torch.tensor([i for i in range(size) if i not in gone], dtype=torch.long, device=device)


def _fix_sizes(module: nn.Module) -> None:
    """Size attributes after slicing, read back from the tensors."""
    if isinstance(module, MaskedRNN):
        for layer in module.layers:
            layer.input_size = original(layer, "weight_ih").shape[1]
            layer.hidden_size = original(layer, "weight_hh").shape[1]
        module.input_size = module.layers[0].input_size
        module.hidden_sizes = tuple(layer.hidden_size for layer in module.layers)
    elif isinstance(module, nn.RNNBase):
        weight_ih = original(module, "weight_ih_l0")
        module.input_size = weight_ih.shape[1]
        module.hidden_size = weight_ih.shape[0] // GATES[module.mode]
        if module.proj_size:
            module.proj_size = original(module, "weight_hr_l0").shape[0]
    elif isinstance(module, nn.modules.batchnorm._BatchNorm):
        module.num_features = (
            module.running_mean.shape[0]
            if module.track_running_stats
            else (original(module, "weight").shape[0])
        )
    elif isinstance(module, nn.modules.conv._ConvNd):
        weight = original(module, "weight")
        if module.groups > 1:  # depthwise
            module.groups = module.in_channels = module.out_channels = weight.shape[0]
        else:
            module.out_channels, module.in_channels = weight.shape[0], weight.shape[1]
    elif isinstance(module, nn.Linear):
        weight = original(module, "weight")
        module.out_features, module.in_features = weight.shape[0], weight.shape[1]


def compact_any(
    model: nn.Module, example_inputs, graph: DependencyGraph | None = None, fold=None
) -> nn.Module:
    """A copy of ``model`` without the units nobody reads; outputs checked equal on
    ``example_inputs`` (max abs difference ≤ 1e-5 in float32, else RuntimeError). ``fold``:
    modules torch.fx should not look into (see :func:`~hiddenstruct.nn.dependency.trace`)."""
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    new = copy.deepcopy(model)
    graph = dependency_graph(new, inputs, fold) if graph is None else _rebind(graph, new)
    plan = _removals(graph)
    _spare_last_units(new, graph, plan)
    for module_name, item in plan.items():
        module = new.get_submodule(module_name)
        if isinstance(module, nn.MultiheadAttention):
            removed = item["axes"].get("head", set())
            kept = [h for h in range(module.num_heads) if h not in removed]
            _replace(new, module_name, CompactMultiheadAttention(module, kept))
        else:
            _slice_module(module, item["tensors"])
    _drop_full_masks(new)
    _check_equal(model, new, inputs)
    return new


def _drop_full_masks(model: nn.Module) -> None:
    """Remove masks that mask nothing any more (all ones), so that a structurally pruned
    model comes out plain; masks with zeros left (unstructured sparsity) stay. A MaskedRNN
    keeps its masks (it always has them)."""
    inside_rnn = {
        id(m) for rnn in model.modules() if isinstance(rnn, MaskedRNN) for m in rnn.modules()
    }
    for _full, module, name in list(masked_modules(model)):
        if id(module) not in inside_rnn and bool(get_mask(module, name).all()):
            remove_mask(module, name, permanent=False)


def _spare_last_units(model: nn.Module, graph: DependencyGraph, plan: dict) -> None:
    """An axis never loses every unit: the lowest-numbered group of such a layer stays."""
    by_layer: dict[str, list[Group]] = {}
    for group in graph.groups:
        by_layer.setdefault(group.layer, []).append(group)
    read: dict = {}
    for groups in by_layer.values():
        if all(removable(graph, g, read) for g in groups):
            spared = groups[0]
            for member in spared.members:
                plan[member.module]["axes"][member.axis].discard(member.index)
            for module_name, entry in graph.entries(spared):
                plan[module_name]["tensors"][(entry.path, entry.dim)].difference_update(entry.index)


def _rebind(graph: DependencyGraph, model: nn.Module) -> DependencyGraph:
    return DependencyGraph(model, graph.groups, graph.pinned, graph.notes)


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    owner, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(owner) if owner else model, leaf, module)


def _check_equal(model: nn.Module, new: nn.Module, inputs: tuple) -> None:
    with evaluating(model), evaluating(new):
        before = output_tensors(model(*inputs))
        after = output_tensors(new(*inputs))
    for a, b in zip(before, after, strict=True):
        diff = float((a.double() - b.double()).abs().max()) if a.numel() else 0.0
        if a.shape != b.shape or not diff <= TOLERANCE * max(1.0, float(a.abs().max())):
            raise RuntimeError(
                f"compaction changed an output of {type(model).__name__} "
                f"(shape {tuple(a.shape)} -> {tuple(b.shape)}, max difference {diff:.3g}); "
                "please report this model"
            )
