"""The prunable tensors of a module: one type, one definition, one way to choose.

A :class:`PrunableTensor` is ``module.<tensor_name>``, known as ``name`` in the model, masked
or not yet masked. Its masked weight (what the forward pass sees) and its raw weight (the
parameter the optimizer updates) have separate, explicit names.

Which tensors are prunable (:func:`prunable_tensors`): by default every masked tensor plus
every weight matrix of ``Linear``, ``Bilinear``, ``Conv*`` and recurrent layers and the
q/k/v projections of ``nn.MultiheadAttention`` (``in_proj_weight``, or ``q_proj_weight``,
``k_proj_weight``, ``v_proj_weight``; its ``out_proj`` is a ``Linear``) — never biases,
never embeddings (docs/pruning.md, "Scope"). A *scope* chooses among them:

* ``None``: the default set above;
* ``"all"``: the same as ``None``;
* ``"masked"``: only the tensors that already carry a mask;
* ``"i2h"`` / ``"h2h"`` / ``"both"``: recurrent input-to-hidden weights (leaf names
  ``weight_ih*``), hidden-to-hidden weights (``weight_hh*``), or both (every gate);
* a list of qualified names, or a predicate ``f(qualified_name, module, tensor_name) -> bool``.

Pruning (unstructured and structured), sparse training, the ξ report, effective sparsity,
OBD, L-OBS and the speed report all use this.

Example::

    >>> model = nn.Sequential(nn.Embedding(10, 4), nn.Conv1d(4, 4, 3), nn.Linear(4, 2))
    >>> list(prunable_tensors(model))
    ['1.weight', '2.weight']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn.interop import from_torch_prune
from hiddenstruct.nn.masking import apply_mask, get_mask, is_masked, masked_modules, original

__all__ = [
    "PrunableTensor",
    "ScopeSpec",
    "SparseLayer",
    "Target",
    "current_masks",
    "ensure_masks",
    "prunable_tensors",
    "resolve_scope",
]

ScopeSpec = str | Iterable[str] | Callable[[str, nn.Module, str], bool] | None

#: Layer types whose weight matrices are prunable by default.
WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Bilinear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.RNNBase,
    nn.RNNCellBase,
)


def _weight_names(module: nn.Module) -> list[str]:
    """The names of ``module``'s own default-prunable weight matrices (not masked ones)."""
    if isinstance(module, nn.MultiheadAttention):  # in_proj_weight or q/k/v_proj_weight
        return [n for n, p in module.named_parameters(recurse=False) if n.endswith("proj_weight")]
    if isinstance(module, WEIGHT_LAYERS):
        return [
            n for n, p in module.named_parameters(recurse=False)
            if n.startswith("weight") and p.dim() >= 2
        ]  # fmt: skip
    return []


@dataclass(frozen=True)
class PrunableTensor:
    """One prunable tensor: ``module.<tensor_name>``, known as ``name`` in the model."""

    name: str
    module: nn.Module
    tensor_name: str

    @property
    def is_masked(self) -> bool:
        return is_masked(self.module, self.tensor_name)

    @property
    def masked_weight(self) -> torch.Tensor:
        """The effective weight (mask applied), detached: what the forward pass uses."""
        return getattr(self.module, self.tensor_name).detach()

    @property
    def raw_weight(self) -> torch.Tensor:
        """The parameter itself (unmasked values; what the optimizer updates)."""
        return original(self.module, self.tensor_name)

    @property
    def current_mask(self) -> torch.Tensor:
        """The mask buffer (updaters edit it in place); all ones when not masked yet."""
        existing = get_mask(self.module, self.tensor_name)
        if existing is not None:
            return existing.detach()
        return torch.ones_like(self.masked_weight)

    @property
    def numel(self) -> int:
        return self.raw_weight.numel()

    @property
    def live(self) -> int:
        """Number of kept (mask = 1) entries."""
        return int(self.current_mask.sum())

    def ensure_mask(self) -> None:
        """Attach an all-ones mask when the tensor is not masked yet."""
        if not self.is_masked:
            weight = getattr(self.module, self.tensor_name)
            apply_mask(self.module, self.tensor_name, torch.ones_like(weight, dtype=torch.bool))

    def set_mask(self, mask: torch.Tensor) -> None:
        """Replace the mask (validated: binary, same shape)."""
        apply_mask(self.module, self.tensor_name, mask)


class Target(PrunableTensor):
    """A :class:`PrunableTensor` with pruning's 0.1.0 accessors as methods:
    ``weight()`` (masked), ``original()`` (raw) and ``mask()``."""

    def weight(self) -> torch.Tensor:
        return self.masked_weight

    def original(self) -> torch.Tensor:
        return self.raw_weight

    def mask(self) -> torch.Tensor:
        return self.current_mask


class SparseLayer(PrunableTensor):
    """A :class:`PrunableTensor` with sparse training's 0.1.0 accessors as properties:
    ``weight`` (raw, what the optimizer updates) and ``mask`` (the buffer)."""

    @property
    def weight(self) -> torch.Tensor:
        return self.raw_weight

    @property
    def mask(self) -> torch.Tensor:
        return self.current_mask


def _default_tensors(model: nn.Module, kind: type[PrunableTensor]) -> dict[str, PrunableTensor]:
    """The default prunable tensors in module order (a masked tensor under its masked name)."""
    found: dict[str, PrunableTensor] = {}
    masked = {(id(mod), name): full for full, mod, name in masked_modules(model)}
    for module_name, module in model.named_modules():
        prefix = f"{module_name}." if module_name else ""
        names: list[str] = []
        if hasattr(module, "parametrizations"):
            names.extend(n for n in module.parametrizations.keys() if is_masked(module, n))
        names.extend(_weight_names(module))
        for tensor_name in names:
            full = masked.get((id(module), tensor_name), f"{prefix}{tensor_name}")
            found.setdefault(full, kind(full, module, tensor_name))
    return found


_NAMED_SCOPES: dict[str, Callable[[PrunableTensor], bool]] = {
    "all": lambda t: True,
    "masked": lambda t: t.is_masked,
    "both": lambda t: t.tensor_name.startswith(("weight_ih", "weight_hh")),
    "i2h": lambda t: t.tensor_name.startswith("weight_ih"),
    "h2h": lambda t: t.tensor_name.startswith("weight_hh"),
}


def prunable_tensors(
    model: nn.Module, scope: ScopeSpec = None, *, kind: type[PrunableTensor] = PrunableTensor
) -> dict[str, PrunableTensor]:
    """``{qualified_name: PrunableTensor}`` chosen by ``scope`` (module order; may be empty).

    ``kind``: the class of the returned tensors (a :class:`PrunableTensor` subclass).
    Unknown scope names and names that are not prunable raise :class:`UsageError`.
    """
    candidates = _default_tensors(model, kind)
    if scope is None:
        return candidates
    if isinstance(scope, str):
        if scope not in _NAMED_SCOPES:
            valid = ", ".join(sorted(_NAMED_SCOPES))
            raise UsageError(
                f"unknown pruning scope {scope!r}; valid: {valid} (or a list of names)"
            )
        keep = _NAMED_SCOPES[scope]
        return {k: t for k, t in candidates.items() if keep(t)}
    if callable(scope):
        return {k: t for k, t in candidates.items() if scope(k, t.module, t.tensor_name)}
    names = list(scope)
    unknown = [n for n in names if n not in candidates]
    if unknown:
        valid = ", ".join(candidates) or "(none)"
        raise UsageError(f"pruning scope names {unknown} are not prunable tensors; valid: {valid}")
    return {n: candidates[n] for n in names}


def candidate_targets(model: nn.Module) -> dict[str, Target]:
    """All default-prunable tensors of ``model`` as :class:`Target` (module order)."""
    return prunable_tensors(model, kind=Target)


def resolve_scope(model: nn.Module, scope: ScopeSpec = None) -> dict[str, Target]:
    """:func:`prunable_tensors` for pruning; raises UsageError if ``scope`` selects nothing.

    Masks made by ``torch.nn.utils.prune`` are converted to hiddenstruct masks first, so
    pruning continues from them (see :func:`hiddenstruct.nn.interop.from_torch_prune`).
    """
    from_torch_prune(model)
    chosen = prunable_tensors(model, scope, kind=Target)
    if not chosen:
        candidates = prunable_tensors(model)
        raise UsageError(
            f"pruning scope {scope!r} selects no tensor of {type(model).__name__}; "
            f"prunable tensors: {', '.join(candidates) or '(none)'}"
        )
    return chosen


def ensure_masks(tensors: dict[str, PrunableTensor]) -> None:
    """Attach an all-ones mask to every tensor that is not masked yet."""
    for tensor in tensors.values():
        tensor.ensure_mask()


def current_masks(tensors: dict[str, PrunableTensor]) -> dict[str, torch.Tensor]:
    """``{name: bool mask}`` for every tensor (all ones where not masked yet)."""
    return {name: t.current_mask.bool() for name, t in tensors.items()}


def sparse_layers(model: nn.Module, mask_plain: bool = True) -> list[SparseLayer]:
    """The masked tensors of ``model`` (scope ``"masked"``), in module order.

    A model without any mask (a plain torch model) gets, with ``mask_plain``, an all-ones
    mask on every default prunable tensor first. A model that has masks keeps its choice
    (e.g. a ``SequenceClassifier``'s unmasked readout stays dense).
    """
    layers = prunable_tensors(model, "masked", kind=SparseLayer)
    if not layers and mask_plain:
        ensure_masks(prunable_tensors(model))
        layers = prunable_tensors(model, "masked", kind=SparseLayer)
    if not layers:
        raise UsageError(
            f"{type(model).__name__} has no masked tensors and no Linear/Conv/recurrent "
            "weight to mask"
        )
    return list(layers.values())
