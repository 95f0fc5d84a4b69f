"""Pruning scope: which weight tensors of a model may be pruned.

A scope resolves to an ordered ``{qualified_name: Target}`` dict. The default takes every
masked tensor plus every weight matrix of ``Linear``, ``Conv*`` and recurrent layers
(never biases, never embeddings). For recurrent models ``"i2h"`` keeps tensors whose
leaf name starts with ``weight_ih``, ``"h2h"`` those starting with ``weight_hh`` and
``"both"`` keeps both (every gate). A scope can also be a list of qualified names or a
predicate ``f(qualified_name, module, tensor_name) -> bool`` over the default candidates.

Example::

    >>> targets = resolve_scope(model, "h2h")
    >>> sorted(targets)
    ['rnn.layers.0.weight_hh', ...]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn.interop import from_torch_prune
from hiddenstruct.nn.masking import apply_mask, get_mask, is_masked, masked_modules, original

ScopeSpec = str | Iterable[str] | Callable[[str, nn.Module, str], bool] | None

_WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Bilinear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.RNNBase,
    nn.RNNCellBase,
)


@dataclass(frozen=True)
class Target:
    """One prunable tensor: ``module.<tensor_name>`` (masked or not yet masked)."""

    name: str
    module: nn.Module
    tensor_name: str

    def weight(self) -> torch.Tensor:
        """The current effective weight (mask applied), detached."""
        return getattr(self.module, self.tensor_name).detach()

    def original(self) -> torch.Tensor:
        """The underlying parameter (the unmasked values)."""
        return original(self.module, self.tensor_name)

    def mask(self) -> torch.Tensor:
        """The mask, or an all-ones tensor when the tensor is not masked yet."""
        existing = get_mask(self.module, self.tensor_name)
        if existing is not None:
            return existing.detach()
        return torch.ones_like(self.weight())


def _leaf_is_weight(name: str) -> bool:
    return name.startswith("weight")


def candidate_targets(model: nn.Module) -> dict[str, Target]:
    """All default-prunable tensors of ``model`` in module order (masked ones first-seen)."""
    found: dict[str, Target] = {}
    masked = {(id(mod), name): full for full, mod, name in masked_modules(model)}
    for module_name, module in model.named_modules():
        prefix = f"{module_name}." if module_name else ""
        names: list[str] = []
        if hasattr(module, "parametrizations"):
            names.extend(n for n in module.parametrizations.keys() if is_masked(module, n))
        if isinstance(module, _WEIGHT_LAYERS):
            for pname, param in module.named_parameters(recurse=False):
                if _leaf_is_weight(pname) and param.dim() >= 2:
                    names.append(pname)
        for tensor_name in names:
            full = masked.get((id(module), tensor_name), f"{prefix}{tensor_name}")
            found.setdefault(full, Target(full, module, tensor_name))
    return found


_NAMED_SCOPES: dict[str, Callable[[str], bool]] = {
    "all": lambda leaf: True,
    "both": lambda leaf: leaf.startswith("weight_ih") or leaf.startswith("weight_hh"),
    "i2h": lambda leaf: leaf.startswith("weight_ih"),
    "h2h": lambda leaf: leaf.startswith("weight_hh"),
}


def resolve_scope(model: nn.Module, scope: ScopeSpec = None) -> dict[str, Target]:
    """Resolve ``scope`` to ``{qualified_name: Target}``; raises UsageError if it selects nothing.

    Masks made by ``torch.nn.utils.prune`` are converted to hiddenstruct masks first, so
    pruning continues from them (see :func:`hiddenstruct.nn.interop.from_torch_prune`).
    """
    from_torch_prune(model)
    candidates = candidate_targets(model)
    if scope is None:
        chosen = candidates
    elif isinstance(scope, str):
        if scope not in _NAMED_SCOPES:
            valid = ", ".join(sorted(_NAMED_SCOPES))
            raise UsageError(
                f"unknown pruning scope {scope!r}; valid: {valid} (or a list of names)"
            )
        keep = _NAMED_SCOPES[scope]
        chosen = {k: t for k, t in candidates.items() if keep(t.tensor_name)}
    elif callable(scope):
        chosen = {k: t for k, t in candidates.items() if scope(k, t.module, t.tensor_name)}
    else:
        names = list(scope)
        unknown = [n for n in names if n not in candidates]
        if unknown:
            valid = ", ".join(candidates) or "(none)"
            raise UsageError(
                f"pruning scope names {unknown} are not prunable tensors; valid: {valid}"
            )
        chosen = {n: candidates[n] for n in names}
    if not chosen:
        raise UsageError(
            f"pruning scope {scope!r} selects no tensor of {type(model).__name__}; "
            f"prunable tensors: {', '.join(candidates) or '(none)'}"
        )
    return chosen


def ensure_masks(targets: dict[str, Target]) -> None:
    """Attach an all-ones mask to every target that is not masked yet."""
    for target in targets.values():
        if not is_masked(target.module, target.tensor_name):
            weight = getattr(target.module, target.tensor_name)
            apply_mask(target.module, target.tensor_name, torch.ones_like(weight, dtype=torch.bool))


def current_masks(targets: dict[str, Target]) -> dict[str, torch.Tensor]:
    """``{name: bool mask}`` for every target (all ones where not masked yet)."""
    return {name: t.mask().bool() for name, t in targets.items()}
