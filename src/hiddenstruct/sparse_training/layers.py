"""The sparse tensors of a model and their initial masks (uniform or Erdős–Rényi(-Kernel)).

A *sparse layer* is one masked weight tensor: every tensor that already carries a
:class:`~hiddenstruct.nn.masking.Mask` (``MaskedDeepFFN.layers.<i>.weight``,
``MaskedRNN.layers.<l>.weight_ih`` and ``weight_hh`` separately, all gates); in a model
without masks, the ``weight`` of every ``nn.Linear`` / ``nn.Conv2d`` (masked on demand).

Example::

    >>> layers = init_sparse_masks(MaskedDeepFFN(784, 10, [300, 100]), 0.05, "erdos_renyi", seed=0)
    >>> sum(int(layer.mask.sum()) for layer in layers) == round(0.05 * 266200)
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn.masking import apply_mask, get_mask, masked_modules, original

__all__ = [
    "DISTRIBUTIONS",
    "SparseLayer",
    "allocate_counts",
    "init_sparse_masks",
    "layer_counts",
    "sparse_layers",
]


@dataclass(frozen=True)
class SparseLayer:
    """One masked weight tensor: ``module.<tensor_name>``, known as ``name`` in the model."""

    name: str
    module: nn.Module
    tensor_name: str

    @property
    def mask(self) -> torch.Tensor:
        """The mask buffer (edited in place by the dynamic sparse training methods)."""
        return get_mask(self.module, self.tensor_name)

    @property
    def weight(self) -> torch.Tensor:
        """The unmasked parameter (what the optimizer updates)."""
        return original(self.module, self.tensor_name)

    @property
    def numel(self) -> int:
        return self.mask.numel()

    @property
    def live(self) -> int:
        """Number of kept (mask = 1) entries."""
        return int(self.mask.sum())


def sparse_layers(model: nn.Module, mask_plain: bool = True) -> list[SparseLayer]:
    """The masked tensors of ``model`` in module order.

    A model without any mask (a plain torch model) gets, with ``mask_plain``, an all-ones
    mask on the ``weight`` of every ``nn.Linear`` / ``nn.Conv2d`` first. A model that has
    masks keeps its choice (e.g. a ``SequenceClassifier``'s unmasked readout stays dense).
    """
    layers = [SparseLayer(full, module, name) for full, module, name in masked_modules(model)]
    if not layers and mask_plain:
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                apply_mask(module, "weight", torch.ones_like(module.weight))
        layers = [SparseLayer(full, module, name) for full, module, name in masked_modules(model)]
    if not layers:
        raise UsageError(
            f"{type(model).__name__} has no masked tensors and no nn.Linear/nn.Conv2d to mask"
        )
    return layers


def _uniform(shapes: list[torch.Size]) -> list[float]:
    return [1.0 for _ in shapes]


def _erdos_renyi(shapes: list[torch.Size]) -> list[float]:
    """ERK raw densities: sum of the dimensions over their product (Evci et al. 2020)."""
    return [sum(shape) / math.prod(shape) for shape in shapes]


#: Initial sparsity distributions: name -> relative per-layer densities (before scaling).
DISTRIBUTIONS: dict[str, Callable[[list[torch.Size]], list[float]]] = {
    "uniform": _uniform,
    "erdos_renyi": _erdos_renyi,
}


def allocate_counts(shares: list[float], total: int, capacity: list[int]) -> list[int]:
    """Integers ∝ ``shares`` summing exactly to ``total``, each at most its ``capacity``.

    Layers whose share would exceed their capacity are filled and the rest re-solved;
    the remainder after flooring goes to the largest fractional parts (ties: first layer).
    """
    if total > sum(capacity):
        raise UsageError(f"cannot place {total} entries in layers holding {sum(capacity)}")
    counts = [0] * len(shares)
    free = [i for i in range(len(shares)) if capacity[i] > 0 and shares[i] > 0]
    remaining = total
    while free and remaining > 0:
        weight = sum(shares[i] for i in free)
        full = [i for i in free if shares[i] / weight * remaining >= capacity[i]]
        if not full:
            break
        for i in full:
            counts[i] = capacity[i]
            remaining -= capacity[i]
        free = [i for i in free if i not in full]
    if free and remaining > 0:
        weight = sum(shares[i] for i in free)
        exact = {i: shares[i] / weight * remaining for i in free}
        for i in free:
            counts[i] = math.floor(exact[i])
        left = remaining - sum(counts[i] for i in free)
        order = sorted(free, key=lambda i: (-(exact[i] - counts[i]), i))
        for i in order:
            if left == 0:
                break
            if counts[i] < capacity[i]:
                counts[i] += 1
                left -= 1
        remaining = left
    if remaining > 0:  # shares were zero somewhere; fill any free capacity in order
        for i in range(len(counts)):
            extra = min(capacity[i] - counts[i], remaining)
            counts[i] += extra
            remaining -= extra
    return counts


def layer_counts(shapes: list[torch.Size], density: float, distribution: str) -> list[int]:
    """Kept entries per layer for a total ``density`` (exactly ``round(density · total)``).

    ``distribution``: ``"uniform"`` (same density everywhere) or ``"erdos_renyi"``
    (ERK: density ∝ Σ dims / Π dims; layers that would exceed 1 are made dense).
    """
    if not 0.0 < density <= 1.0:
        raise UsageError(f"density must be in (0, 1], got {density}")
    try:
        raw = DISTRIBUTIONS[distribution](shapes)
    except KeyError:
        raise UsageError(
            f"unknown sparsity distribution {distribution!r}; valid: {sorted(DISTRIBUTIONS)}"
        ) from None
    sizes = [math.prod(shape) for shape in shapes]
    total = round(density * sum(sizes))
    return allocate_counts([r * n for r, n in zip(raw, sizes, strict=True)], total, sizes)


def init_sparse_masks(
    model: nn.Module,
    density: float,
    distribution: str = "uniform",
    seed: int = 0,
    mask_plain: bool = True,
) -> list[SparseLayer]:
    """Replace every sparse layer's mask by a random one at total ``density``; return the layers.

    The kept entries of each layer are drawn uniformly at random (seeded); the weights
    under the new zeros are set to zero so that a mask entry switched on later starts at 0.
    """
    layers = sparse_layers(model, mask_plain)
    counts = layer_counts([layer.mask.shape for layer in layers], density, distribution)
    generator = torch.Generator().manual_seed(seed)
    for layer, count in zip(layers, counts, strict=True):
        order = torch.randperm(layer.numel, generator=generator)
        flat = torch.zeros(layer.numel)
        flat[order[:count]] = 1.0
        apply_mask(layer.module, layer.tensor_name, flat.reshape(layer.mask.shape))
        with torch.no_grad():
            layer.weight.mul_(layer.mask)
    return layers
