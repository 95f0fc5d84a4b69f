"""Structured pruning of any traceable model: whole units in dependency groups, as masks.

``prune_structured(model, amount, example_inputs=…, unit=…, criterion=…, selection=…,
scope=…)`` finds the unit groups (:func:`hiddenstruct.nn.dependency.dependency_graph`),
keeps those ``scope`` puts in play, scores each group, selects the lowest-scoring ones per
layer or globally (the selectors of :mod:`hiddenstruct.pruning.selection`) and masks *every
weight entry* of the chosen groups — the unit's own rows and the columns reading it — with
our masks (:mod:`hiddenstruct.nn.masking`). The model keeps its shapes, trains and retrains
as before (masks only shrink), and :func:`hiddenstruct.nn.compact` then removes the masked
units physically with outputs unchanged.

``scope`` chooses tensors as everywhere else (:func:`hiddenstruct.sparsity.prunable_tensors`:
``None`` = the default prunable tensors, ``"i2h"``, ``"h2h"``, a list of names, …): a group
is in play when every weight tensor whose rows it owns (the weights of its *layer*, the
modules producing it) is in scope; the groups of other layers are left alone and named in
the report (``left_alone``). The columns reading a pruned unit are masked whatever their
scope: removing a unit removes what reads it.

Group scores (lower = pruned first; already pruned groups do not compete):

* ``"l1"`` / ``"l2"``: L1 / L2 norm of all the group's weight entries (rows and columns),
  per entry: divided by the number of entries (L1) or its square root (L2), so that groups
  of layers with different fan-in compare under ``selection="global"`` (our choice; it
  changes no per-layer choice, where all groups have the same number of entries);
* ``"magnitude"``: the same per-entry L1 over the units' own weights only (their rows: a
  conv's filter norm, Li et al. 2017, "Pruning Filters for Efficient ConvNets");
* ``"taylor"``: first-order Taylor, (Σ g·w)² over the group's weight entries (Molchanov et
  al. 2019, "Importance Estimation for Neural Network Pruning"), from one batch and a loss;
* ``"random"``: seeded uniform scores.

``selection="layer"`` (also ``"class_uniform"``) prunes the same fraction of every layer's
groups (a layer = the modules producing the group, e.g. the convolutions tied by one
residual stream), ``"global"`` (also ``"class_blinded"``) one threshold over all groups in
play (raw scores: groups of different layers compete on their own norms — our choice, as
Torch-Pruning's global mode does). Every layer keeps at least one unit. The selection used
to be passed as ``scope="layer"`` / ``scope="global"``; that still works, with a
``FutureWarning``.

Example::

    >>> report = prune_structured(resnet, 0.5, example_inputs=torch.randn(1, 3, 32, 32),
    ...                           unit="channel", criterion="l1", selection="layer")
    >>> small = compact(resnet, torch.randn(1, 3, 32, 32))
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from hiddenstruct.errors import UsageError, check_choice, lookup
from hiddenstruct.nn.dependency import KINDS, DependencyGraph, Group, dependency_graph
from hiddenstruct.nn.masking import original
from hiddenstruct.nn.units import Entry
from hiddenstruct.pruning.counts import StepCounts
from hiddenstruct.pruning.schedules import Schedule
from hiddenstruct.pruning.selection import Amount, as_amount, get_selection
from hiddenstruct.sparsity.tensors import PrunableTensor, ScopeSpec, prunable_tensors

STRUCTURED_CRITERIA = ("l1", "l2", "magnitude", "taylor", "random")
#: Structured selections and the unstructured selector each one is.
STRUCTURED_SELECTIONS = {"layer": "class_uniform", "global": "class_blinded"}
#: Every accepted ``selection`` value, by the name the report gives it.
_SELECTION_NAMES = {
    **{name: name for name in STRUCTURED_SELECTIONS},
    **{unstructured: name for name, unstructured in STRUCTURED_SELECTIONS.items()},
}


@dataclass(frozen=True)
class LayerCounts:
    """Groups of one layer: total, alive before and after the step."""

    layer: str
    kind: str
    total: int
    before: int
    after: int


@dataclass(frozen=True)
class StructuredReport(StepCounts):
    """What one structured step did, per layer in play; ``left_alone``: the layers whose
    groups ``scope`` kept out of play."""

    criterion: str
    selection: str
    amount: str
    layers: tuple[LayerCounts, ...]
    pinned: int
    left_alone: tuple[str, ...] = ()

    def parts(self) -> tuple[LayerCounts, ...]:
        return self.layers


def _weight_entries(graph: DependencyGraph, group: Group) -> list[tuple[PrunableTensor, Entry]]:
    """``(tensor, entry)`` of the group's weight tensors (2+ dims)."""
    located = (
        (PrunableTensor(f"{module}.{entry.path}" if module else entry.path, holder, name), entry)
        for module, holder, name, entry in graph.located(group)
    )
    return [(tensor, entry) for tensor, entry in located if tensor.raw_weight.dim() >= 2]


def _rows_of(tensor: torch.Tensor, dim: int) -> torch.Tensor:
    """``tensor`` as a matrix with one row per index along ``dim``."""
    return tensor.movedim(dim, 0).reshape(tensor.shape[dim], -1)


class _Sums:
    """Per weight tensor and dimension, sums over all other dimensions (computed once), so
    that a group's score is a sum of a few indexed entries: no per-group tensor work."""

    def __init__(self, grads: dict[int, torch.Tensor] | None = None) -> None:
        self.grads = grads or {}
        self.cache: dict[tuple[int, str, int], dict[str, list]] = {}

    def of(self, tensor: PrunableTensor, dim: int) -> dict[str, list]:
        key = (id(tensor.module), tensor.tensor_name, dim)
        if key not in self.cache:
            weight = _rows_of(tensor.masked_weight.double().cpu(), dim)
            mask = tensor.current_mask if tensor.is_masked else None
            sums = {
                "abs": weight.abs().sum(1),
                "square": (weight**2).sum(1),
                "count": torch.full((weight.shape[0],), float(weight.shape[1])),
                "alive": torch.ones(weight.shape[0], dtype=torch.bool)
                if mask is None
                else _rows_of(mask.detach().cpu().bool(), dim).any(1),
            }
            grad = self.grads.get(id(tensor.raw_weight))
            if grad is not None:
                g = grad.detach().double().cpu() * (1.0 if mask is None else mask.cpu())
                sums["gw"] = (_rows_of(g, dim) * weight).sum(1)
            self.cache[key] = {k: v.tolist() for k, v in sums.items()}  # Python: cheap lookups
        return self.cache[key]

    def total(self, tensor: PrunableTensor, entry: Entry, what: str) -> float:
        values = self.of(tensor, entry.dim).get(what)
        return 0.0 if values is None else sum(values[i] for i in entry.index)

    def alive(self, tensor: PrunableTensor, entry: Entry) -> bool:
        values = self.of(tensor, entry.dim)["alive"]
        return any(values[i] for i in entry.index)


def _alive(entries, sums: _Sums) -> bool:
    """A group is alive while any of its weight entries is unmasked."""
    return any(sums.alive(tensor, entry) for tensor, entry in entries)


def _producing_weights(graph: DependencyGraph, group: Group) -> set[tuple[int, str]]:
    """``(id(module), tensor name)`` of the weight tensors whose rows ``group`` owns: those
    of its producing members (not the columns reading it, not BatchNorm entries)."""
    producers = {m.module for m in group.members if m.produces}
    return {
        (id(holder), name)
        for module, holder, name, entry in graph.located(group)
        if module in producers and not entry.reader and original(holder, name).dim() >= 2
    }


def _gradients(model: nn.Module, batch, loss_fn) -> dict[int, torch.Tensor]:
    """``id(parameter) -> gradient`` of ``loss_fn(model(*inputs), target)`` on one batch."""
    if batch is None:
        raise UsageError(
            "the taylor criterion needs batch=(inputs, target) (and loss_fn, default "
            "cross-entropy) to compute gradients"
        )
    *inputs, target = batch
    params = [p for p in model.parameters() if p.requires_grad]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:  # in the model's own mode; BatchNorm statistics are put back afterwards
        output = model(*inputs)
        output = output[0] if isinstance(output, (tuple, list)) else output
        loss = (loss_fn or nn.functional.cross_entropy)(output, target)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    finally:
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
    return {id(p): g for p, g in zip(params, grads, strict=True) if g is not None}


def _sums_for(graph: DependencyGraph, criterion: str, batch, loss_fn) -> _Sums:
    """The per-tensor sums a criterion reads (with gradients for ``"taylor"``)."""
    return _Sums(_gradients(graph.model, batch, loss_fn) if criterion == "taylor" else None)


def _random_scores(count: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(int(seed))
    return torch.rand(count, generator=generator, dtype=torch.float64)


def _scores(entries, criterion: str, sums: _Sums, seed: int) -> torch.Tensor:
    """One score per group from its weight entries (``_weight_entries``) and ``sums``."""
    if criterion == "random":
        return _random_scores(len(entries), seed)
    what = {"l1": "abs", "magnitude": "abs", "l2": "square", "taylor": "gw"}[criterion]
    scores = torch.zeros(len(entries), dtype=torch.float64)
    for i, group_entries in enumerate(entries):
        total = count = 0.0
        for tensor, entry in group_entries:
            if criterion == "magnitude" and entry.reader:
                continue
            total += sums.total(tensor, entry, what)
            count += sums.total(tensor, entry, "count")
        if criterion == "taylor":
            scores[i] = total**2
        else:
            mean = total / count if count else 0.0
            scores[i] = mean**0.5 if criterion == "l2" else mean
    return scores


def group_scores(
    graph: DependencyGraph,
    groups: Sequence[Group],
    criterion: str,
    *,
    seed: int = 0,
    batch=None,
    loss_fn: Callable | None = None,
) -> torch.Tensor:
    """One score per group (float64, lower = less important); see the module docstring."""
    check_choice(criterion, STRUCTURED_CRITERIA, "structured criterion")
    if criterion == "random":
        return _random_scores(len(groups), seed)
    entries = [_weight_entries(graph, g) for g in groups]
    return _scores(entries, criterion, _sums_for(graph, criterion, batch, loss_fn), seed)


def _units(unit: str | Sequence[str] | None) -> tuple[str, ...]:
    chosen = KINDS if unit is None else ((unit,) if isinstance(unit, str) else tuple(unit))
    for u in chosen:
        check_choice(u, KINDS, "unit")
    return chosen


def resolve_selection(
    selection: str, scope: ScopeSpec, caller: str = "prune_structured"
) -> tuple[str, ScopeSpec]:
    """``(selection name, tensor scope)``; ``scope="layer"``/``"global"`` is the old
    spelling of the selection (a ``FutureWarning`` at the call of ``caller``)."""
    if isinstance(scope, str) and scope in STRUCTURED_SELECTIONS:
        if _SELECTION_NAMES.get(selection, selection) not in ("layer", scope):
            raise UsageError(
                f"{caller} got selection={selection!r} and the old spelling "
                f"scope={scope!r}; pass only selection= (scope= chooses tensors)"
            )
        warnings.warn(
            f"{caller}(scope={scope!r}) chooses the selection: pass "
            f"selection={scope!r}; scope= chooses the tensors, as in prune()",
            FutureWarning,
            stacklevel=3,
        )
        selection, scope = scope, None
    return lookup(_SELECTION_NAMES, selection, "structured selection"), scope


def _in_play(
    graph: DependencyGraph, groups: list[Group], scope: ScopeSpec
) -> tuple[list[Group], tuple[str, ...]]:
    """The groups whose producing weights are all in ``scope``, and the layers left alone."""
    chosen = {(id(t.module), t.tensor_name) for t in prunable_tensors(graph.model, scope).values()}
    verdict: dict[str, bool] = {}
    for g in groups:  # every group of a layer has the same producing tensors
        if g.layer not in verdict:
            verdict[g.layer] = _producing_weights(graph, g) <= chosen
    return [g for g in groups if verdict[g.layer]], tuple(k for k, v in verdict.items() if not v)


def prune_structured(
    model: nn.Module,
    amount: float | int | Amount = 0.5,
    *,
    example_inputs,
    unit: str | Sequence[str] | None = None,
    criterion: str = "l1",
    selection: str = "layer",
    scope: ScopeSpec = None,
    seed: int = 0,
    batch=None,
    loss_fn: Callable | None = None,
    graph: DependencyGraph | None = None,
    fold=None,
) -> StructuredReport:
    """Mask the lowest-scoring unit groups of ``model`` in place; returns a report.

    ``amount``: fraction of the remaining groups in play (float), a count (int) or an
    amount from a schedule (:mod:`hiddenstruct.pruning.schedules`); ``unit``: ``"neuron"``,
    ``"channel"``, ``"hidden"``, ``"head"``, a list of them, or ``None`` for all;
    ``criterion``: one of :data:`STRUCTURED_CRITERIA`; ``selection``: ``"layer"`` (or
    ``"class_uniform"``) or ``"global"`` (or ``"class_blinded"``); ``scope``: which tensors
    (:func:`~hiddenstruct.sparsity.prunable_tensors`) — a group is in play when the weights
    whose rows it owns are all in scope; ``seed``: for ``"random"``; ``batch=(inputs…,
    target)`` and ``loss_fn`` (default cross-entropy): for ``"taylor"``; ``graph``: a
    :func:`dependency_graph` of this model to reuse (it is traced otherwise); ``fold``:
    modules (types or qualified names) torch.fx should not look into — their units are left
    alone.
    """
    selection, scope = resolve_selection(selection, scope)
    check_choice(criterion, STRUCTURED_CRITERIA, "structured criterion")
    kinds = _units(unit)
    amount = as_amount(amount)
    graph = graph if graph is not None else dependency_graph(model, example_inputs, fold)
    of_kind = [g for g in graph.groups if g.kind in kinds]
    if not of_kind:
        found = sorted({g.kind for g in graph.groups}) or ["none"]
        raise UsageError(
            f"{type(model).__name__} has no prunable {'/'.join(kinds)} groups "
            f"(prunable kinds: {', '.join(found)})"
        )
    candidates, left_alone = _in_play(graph, of_kind, scope)
    if not candidates:
        raise UsageError(
            f"scope {scope!r} puts no {'/'.join(sorted({g.kind for g in of_kind}))} group of "
            f"{type(model).__name__} in play: a group needs the weights of its layer in scope "
            f"(left alone: {', '.join(left_alone)})"
        )
    layers: dict[str, list[int]] = {}
    for i, g in enumerate(candidates):
        layers.setdefault(g.layer, []).append(i)
    entries = [_weight_entries(graph, g) for g in candidates]
    sums = _sums_for(graph, criterion, batch, loss_fn)  # summed once: alive and scores
    alive = torch.tensor([_alive(e, sums) for e in entries])
    scores = _scores(entries, criterion, sums, seed)
    by_layer = {k: scores[v] for k, v in layers.items()}
    masks = {k: alive[v] for k, v in layers.items()}
    kept = get_selection(STRUCTURED_SELECTIONS[selection])(by_layer, masks, amount)
    counts, chosen = [], []
    for layer, index in layers.items():
        after = kept[layer].clone()
        if masks[layer].any() and not after.any():  # every layer keeps its best unit
            best = torch.where(masks[layer], by_layer[layer], -torch.inf).argmax()
            after[best] = True
        chosen += [
            i for i, keep in zip(index, after.tolist(), strict=True) if alive[i] and not keep
        ]
        before = int(masks[layer].sum())
        kind = candidates[index[0]].kind
        counts.append(LayerCounts(layer, kind, len(index), before, int(after.sum())))
    _mask_entries([e for i in chosen for e in entries[i]])
    return StructuredReport(
        criterion, selection, repr(amount), tuple(counts), graph.pinned, left_alone
    )


def _mask_entries(entries) -> None:
    """Mask the given weight entries, one new mask per tensor (masks only shrink)."""
    cuts: dict[tuple[int, str], tuple[PrunableTensor, list[Entry]]] = {}
    for tensor, entry in entries:
        cuts.setdefault((id(tensor.module), tensor.tensor_name), (tensor, []))[1].append(entry)
    for tensor, items in cuts.values():
        new = tensor.current_mask.clone()  # all ones when not masked yet
        for entry in items:
            new.index_fill_(entry.dim, torch.tensor(entry.index, device=new.device), 0)
        tensor.set_mask(new)


def prune_structured_schedule(
    model: nn.Module, schedule: Schedule, *, example_inputs, steps: int | None = None, **options
) -> list[StructuredReport]:
    """Run :func:`prune_structured` at every step of ``schedule`` (e.g. ``relative(0.2)``)
    until it ends, ``steps`` steps were taken or nothing is left to prune; the model is
    traced once. ``options`` go to :func:`prune_structured`; retrain between steps by
    calling :func:`prune_structured` yourself in your loop."""
    graph = dependency_graph(model, example_inputs, options.pop("fold", None))
    options["selection"], options["scope"] = resolve_selection(
        options.get("selection", "layer"), options.get("scope"), "prune_structured_schedule"
    )
    reports: list[StructuredReport] = []
    step = 0
    while steps is None or step < steps:
        amount = schedule(step)
        if amount is None:
            break
        report = prune_structured(
            model, amount, example_inputs=example_inputs, graph=graph, **options
        )
        reports.append(report)
        if report.pruned == 0:
            break
        step += 1
    return reports
