"""Compaction of any traceable model: physically remove the units nobody reads.

A unit group (:mod:`hiddenstruct.nn.dependency`) whose *reader* entries — the input
columns of every layer reading it, a recurrent unit's column of ``W_hh``, an attention
head's columns of ``out_proj`` — are all masked contributes nothing to any output, so
removing it (its rows, its per-channel BatchNorm entries, its biases, those columns) is
exact. :func:`hiddenstruct.pruning.prune_structured` masks whole groups, so what it prunes
is removed here. The result is a copy of the model with the same classes (nn.Linear,
nn.Conv2d, nn.BatchNorm2d, nn.GRU, nn.LSTM, :class:`MaskedRNN` …; a MultiheadAttention
that lost heads becomes a :class:`CompactMultiheadAttention`), remaining masks kept (sliced).
Its outputs on ``example_inputs`` are checked against the masked model's before it is returned.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from hiddenstruct.nn.dependency import DependencyGraph, Group, dependency_graph
from hiddenstruct.nn.masking import apply_mask, get_mask, is_masked, original, remove_mask
from hiddenstruct.nn.rnn import MaskedRNN

TOLERANCE = 1e-5


class CompactMultiheadAttention(nn.Module):
    """``nn.MultiheadAttention`` with some heads removed: separate q/k/v/out projections of
    ``heads`` heads of ``head_dim`` each; same call and output as the original (attention
    weights are not returned: ``None``; a model reading them keeps all its heads).

    ``kept_heads`` (a buffer) are the original head numbers, used to select the rows of a
    per-head ``attn_mask`` of shape ``[batch·num_heads, L, S]``.
    """

    def __init__(self, source: nn.MultiheadAttention, kept: list[int]) -> None:
        super().__init__()
        self.embed_dim, self.head_dim = source.embed_dim, source.head_dim
        self.num_heads, self.source_heads = len(kept), source.num_heads
        self.batch_first, self.dropout = source.batch_first, source.dropout
        self.register_buffer("kept_heads", torch.tensor(kept, dtype=torch.long))
        inner = self.num_heads * self.head_dim
        bias = source.in_proj_bias is not None
        device = source.out_proj.weight.device
        self.q_proj = nn.Linear(self.embed_dim, inner, bias=bias, device=device)
        self.k_proj = nn.Linear(source.kdim, inner, bias=bias, device=device)
        self.v_proj = nn.Linear(source.vdim, inner, bias=bias, device=device)
        self.out_proj = nn.Linear(inner, self.embed_dim, bias=source.out_proj.bias is not None)
        self.out_proj.to(device)
        rows = torch.tensor(
            [h * self.head_dim + t for h in kept for t in range(self.head_dim)], device=device
        )
        E = self.embed_dim
        for block, proj in enumerate((self.q_proj, self.k_proj, self.v_proj)):
            if source._qkv_same_embed_dim:
                name, offset = "in_proj_weight", block * E
            else:
                name, offset = f"{'qkv'[block]}_proj_weight", 0
            _copy_rows(proj, "weight", source, name, rows + offset)
            if bias:
                _copy_rows(proj, "bias", source, "in_proj_bias", rows + block * E)
        _copy_rows(self.out_proj, "weight", source.out_proj, "weight", rows, dim=1)
        if source.out_proj.bias is not None:
            _copy_rows(self.out_proj, "bias", source.out_proj, "bias", None)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, None]:
        unbatched = query.dim() == 2
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        if not self.batch_first or unbatched:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        B, L, S = query.shape[0], query.shape[1], key.shape[1]
        q = self.q_proj(query).view(B, L, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(key).view(B, S, self.num_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(value).view(B, S, self.num_heads, self.head_dim).transpose(1, 2)
        mask = None
        if attn_mask is not None:
            mask = _additive(attn_mask, q.dtype)
            if mask.dim() == 3:
                mask = mask.view(B, self.source_heads, L, S)[:, self.kept_heads]
        if key_padding_mask is not None:
            pad = _additive(key_padding_mask, q.dtype).view(B, 1, 1, S)
            mask = pad if mask is None else mask + pad
        dropout = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        out = self.out_proj(out.transpose(1, 2).reshape(B, L, self.num_heads * self.head_dim))
        if not self.batch_first or unbatched:
            out = out.transpose(0, 1)
        return (out.squeeze(1) if unbatched else out), None


def _additive(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean "not allowed" mask as an additive float mask (float masks pass through)."""
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
            mask, float("-inf")
        )
    return mask.to(dtype)


def _copy_rows(new: nn.Module, name: str, old: nn.Module, old_name: str, rows, dim=0) -> None:
    """Copy ``old.<old_name>`` (entries ``rows`` along ``dim``; all when ``None``) into
    ``new.<name>``, with its mask when it has one."""
    value, mask = original(old, old_name).detach(), get_mask(old, old_name)
    if rows is not None:
        value = value.index_select(dim, rows)
        mask = None if mask is None else mask.index_select(dim, rows)
    with torch.no_grad():
        getattr(new, name).copy_(value)
    if mask is not None:
        apply_mask(new, name, mask)


# ---------------------------------------------------------------------------------------


def removable(graph: DependencyGraph, group: Group) -> bool:
    """Whether every reader entry of ``group`` is masked (and it has one)."""
    readers = [(m, e) for m, e in graph.entries(group) if e.reader]
    for module_name, entry in readers:
        module = graph.model.get_submodule(module_name)
        owner, _, name = entry.path.rpartition(".")
        holder = module.get_submodule(owner) if owner else module
        mask = get_mask(holder, name)
        index = torch.tensor(entry.index, device=None if mask is None else mask.device)
        if mask is None or bool(mask.index_select(entry.dim, index).any()):
            return False
    return bool(readers)


def _removals(graph: DependencyGraph) -> dict[str, dict]:
    """``module -> {"axes": {axis: removed units}, "tensors": {(path, dim): removed entries}}``."""
    plan: dict[str, dict] = {}
    for group in graph.groups:
        if not removable(graph, group):
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
        module.input_size = original(module, "weight_ih_l0").shape[1]
        module.hidden_size = original(module, "weight_hh_l0").shape[1]
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


def compact_any(model: nn.Module, example_inputs, graph: DependencyGraph | None = None):
    """A copy of ``model`` without the units nobody reads; outputs checked equal on
    ``example_inputs`` (max abs difference ≤ 1e-5 in float32, else RuntimeError)."""
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    new = copy.deepcopy(model)
    graph = dependency_graph(new, inputs) if graph is None else _rebind(graph, new)
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
    _check_equal(model, new, inputs)
    return new.train(model.training)


def _spare_last_units(model: nn.Module, graph: DependencyGraph, plan: dict) -> None:
    """An axis never loses every unit: the lowest-numbered group of such a layer stays."""
    by_layer: dict[str, list[Group]] = {}
    for group in graph.groups:
        by_layer.setdefault(group.layer, []).append(group)
    for groups in by_layer.values():
        if all(removable(graph, g) for g in groups):
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


def _outputs(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _outputs(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _outputs(v)]
    return []


def _check_equal(model: nn.Module, new: nn.Module, inputs: tuple) -> None:
    modes = model.training, new.training
    try:
        with torch.no_grad():
            before = _outputs(model.eval()(*inputs))
            after = _outputs(new.eval()(*inputs))
    finally:
        model.train(modes[0])
        new.train(modes[1])
    for a, b in zip(before, after, strict=True):
        diff = float((a.double() - b.double()).abs().max()) if a.numel() else 0.0
        if a.shape != b.shape or not diff <= TOLERANCE * max(1.0, float(a.abs().max())):
            raise RuntimeError(
                f"compaction changed an output of {type(model).__name__} "
                f"(shape {tuple(a.shape)} -> {tuple(b.shape)}, max difference {diff:.3g}); "
                "please report this model"
            )
