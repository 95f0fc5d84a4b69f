"""Selection: turn saliency scores and current masks into new (smaller) masks.

Pure functions ``select(scores, masks, amount, max_count=None) -> new_masks`` on
``{name: Tensor}`` dicts. Only still-unpruned weights (mask 1) compete; masks only ever
shrink; ties are broken deterministically by position (lower score first, then the lower
flat index in scope order).

Amounts (see :func:`as_amount`):

* a ``float`` in [0, 1] or :class:`Fraction` — that fraction of the *remaining* weights
  (rounded half up);
* an ``int`` or :class:`Count` — exactly that many weights;
* :class:`Bucket` — the lowest-saliency weights whose summed saliency fills a bucket of
  size ``B``. Rule for the crossing weight: weights are taken in ascending saliency until
  the running sum reaches ``B``; the weight whose saliency makes the sum reach or cross
  ``B`` **is** pruned (so every step prunes at least one weight and the bucket overflows by
  less than one weight's saliency). Scores must be non-negative.

Selectors: ``class_blinded`` (one global threshold), ``class_uniform`` (the same fraction
of every tensor) and ``class_distributed`` (global threshold after dividing each tensor's
scores by the standard deviation of its unpruned scores, :func:`spread` — for magnitude
scores the std of weight *magnitudes* |w| per tensor, the paper's §3 wording; the
``magnitude_distributed`` criterion uses the same function).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from hiddenstruct.errors import UsageError, lookup
from hiddenstruct.sparsity.allocation import allocate_counts
from hiddenstruct.sparsity.topk import lowest


@dataclass(frozen=True)
class Fraction:
    """Prune this fraction of the remaining scoped weights."""

    value: float


@dataclass(frozen=True)
class Count:
    """Prune exactly this many weights."""

    value: int


@dataclass(frozen=True)
class Bucket:
    """Prune lowest-saliency weights until their summed saliency fills ``size``."""

    size: float


Amount = Fraction | Count | Bucket


def as_amount(amount: float | int | Amount) -> Amount:
    """Normalise ``amount``: float → :class:`Fraction`, int → :class:`Count`; validates range."""
    if isinstance(amount, bool):
        raise UsageError(f"pruning amount must be a fraction or a count, not {amount!r}")
    if isinstance(amount, int):
        amount = Count(amount)
    elif isinstance(amount, float):
        amount = Fraction(amount)
    if isinstance(amount, Fraction) and not 0.0 <= amount.value <= 1.0:
        raise UsageError(f"pruning fraction must lie in [0, 1], got {amount.value}")
    if isinstance(amount, Count) and amount.value < 0:
        raise UsageError(f"pruning count must be >= 0, got {amount.value}")
    if isinstance(amount, Bucket) and not amount.size >= 0:
        raise UsageError(f"bucket size must be >= 0, got {amount.size}")
    if not isinstance(amount, (Fraction, Count, Bucket)):
        raise UsageError(f"unsupported pruning amount {amount!r}; use a float, an int or Bucket")
    return amount


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def count_for(amount: Amount, remaining: int) -> int:
    """Number of weights a Fraction/Count amount prunes out of ``remaining``."""
    if isinstance(amount, Fraction):
        return min(_round_half_up(amount.value * remaining), remaining)
    if isinstance(amount, Count):
        if amount.value > remaining:
            raise UsageError(
                f"cannot prune {amount.value} weights: only {remaining} remain in scope"
            )
        return amount.value
    raise UsageError("a bucket amount has no fixed count; it needs the scores")


def _check(scores: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> None:
    if scores.keys() != masks.keys():
        raise ValueError(
            f"scores and masks name different tensors: {sorted(scores)} vs {sorted(masks)}"
        )
    for name in scores:
        if scores[name].shape != masks[name].shape:
            raise ValueError(
                f"scores for {name!r} have shape {tuple(scores[name].shape)}, "
                f"mask has {tuple(masks[name].shape)}"
            )


def _flat_candidates(scores, masks) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(scores of unpruned entries, their global flat positions, all masks flattened) in scope order."""
    flat_masks = torch.cat([masks[n].detach().reshape(-1).bool().cpu() for n in scores])
    flat_scores = torch.cat([scores[n].detach().reshape(-1).double().cpu() for n in scores])
    positions = torch.nonzero(flat_masks, as_tuple=False).reshape(-1)
    return flat_scores[positions], positions, flat_masks


def _lowest(values: torch.Tensor, amount: Amount, max_count: int | None) -> torch.Tensor:
    """Indices (into ``values``) of the entries to prune: the k lowest, ties by position."""
    if torch.isnan(values).any():
        raise ValueError("saliency scores contain NaN")
    if isinstance(amount, Bucket):
        if values.numel() and values.min() < 0:
            raise ValueError("bucket pruning needs non-negative saliency scores")
        order = torch.sort(values, stable=True).indices
        cumulative = torch.cumsum(values[order], 0)
        # first position where the running sum reaches B; that weight is pruned too
        size = torch.tensor([float(amount.size)], dtype=cumulative.dtype)
        k = int(torch.searchsorted(cumulative, size))
        k = min(k + 1, values.numel()) if amount.size > 0 else 0
        if max_count is not None:
            k = min(k, max(max_count, 0))
        return order[:k]
    k = count_for(amount, values.numel())
    if max_count is not None:
        k = min(k, max(max_count, 0))
    return lowest(values, k)


def _apply(masks, flat_masks, positions, chosen) -> dict[str, torch.Tensor]:
    new_flat = flat_masks.clone()
    new_flat[positions[chosen]] = False
    new, offset = {}, 0
    for name, mask in masks.items():
        n = mask.numel()
        new[name] = new_flat[offset : offset + n].reshape(mask.shape).to(mask.device)
        offset += n
    return new


def class_blinded(scores, masks, amount, max_count: int | None = None) -> dict[str, torch.Tensor]:
    """One global threshold over all scoped, unpruned weights."""
    _check(scores, masks)
    amount = as_amount(amount)
    values, positions, flat_masks = _flat_candidates(scores, masks)
    chosen = _lowest(values, amount, max_count)
    return _apply(masks, flat_masks, positions, chosen)


def class_uniform(scores, masks, amount, max_count: int | None = None) -> dict[str, torch.Tensor]:
    """The same fraction of every tensor's unpruned weights (counts apportioned exactly)."""
    _check(scores, masks)
    amount = as_amount(amount)
    if isinstance(amount, Bucket):
        raise UsageError(
            "bucket amounts need a global selection: use class_blinded or class_distributed"
        )
    sizes = [int(masks[n].bool().sum()) for n in masks]
    if isinstance(amount, Fraction):
        per_tensor = [count_for(amount, s) for s in sizes]
        if max_count is not None and sum(per_tensor) > max_count:
            per_tensor = allocate_counts(sizes, max(max_count, 0), sizes)
    else:
        total = count_for(amount, sum(sizes))
        limit = min(total, max_count) if max_count is not None else total
        per_tensor = allocate_counts(sizes, limit, sizes)
    new = {}
    for name, k in zip(masks, per_tensor, strict=True):
        new.update(class_blinded({name: scores[name]}, {name: masks[name]}, Count(k)))
    return new


def spread(values: torch.Tensor, mask: torch.Tensor) -> float:
    """Sample std (ddof 1) of the unpruned entries of ``values``; 0 when undefined.

    The one definition of class-distributed selection (paper §3: "in proportion to the
    standard deviation of weight magnitudes in the respected class"): for magnitude
    scores ``values`` is |w|, so this is the std of |w|, not of the signed w.
    """
    alive = values.detach().reshape(-1)[mask.detach().reshape(-1).bool().to(values.device)]
    std = float(alive.double().std()) if alive.numel() > 1 else 0.0
    return std if math.isfinite(std) else 0.0


def spread_scaled(scores, masks) -> dict[str, torch.Tensor]:
    """Each tensor's scores divided by their :func:`spread` (left as is where it is 0)."""
    scaled = {}
    for name, s in scores.items():
        std = spread(s, masks[name])
        scaled[name] = s.detach().double() / std if std > 0 else s.detach().double()
    return scaled


def class_distributed(
    scores, masks, amount, max_count: int | None = None
) -> dict[str, torch.Tensor]:
    """Global threshold on scores divided by the std of each tensor's unpruned scores."""
    _check(scores, masks)
    return class_blinded(spread_scaled(scores, masks), masks, amount, max_count)


Selector = Callable[..., dict[str, torch.Tensor]]

SELECTIONS: dict[str, Selector] = {
    "class_blinded": class_blinded,
    "class_uniform": class_uniform,
    "class_distributed": class_distributed,
}


def get_selection(selection: str | Selector) -> Selector:
    """Look up a selector by name (or pass a callable through)."""
    if callable(selection):
        return selection
    return lookup(SELECTIONS, selection, "selection")
