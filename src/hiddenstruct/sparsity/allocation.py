"""How a budget of weights is spread over tensors: one apportionment, named distributions.

Every "how many entries does each tensor get" question goes through :func:`allocate_counts`:
pruning's class-uniform selection (the same fraction of each tensor), the initial masks of
sparse training (``uniform`` or Erdős–Rényi(-Kernel)) and sparse momentum's regrowth split.

Example::

    >>> layer_counts([torch.Size([300, 784]), torch.Size([10, 300])], 0.1, "erdos_renyi")  # 2nd dense
    [20820, 3000]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from hiddenstruct.errors import UsageError, lookup

__all__ = ["DISTRIBUTIONS", "allocate_counts", "layer_counts"]


def _quota(share: float, weight: float, remaining: int) -> float:
    """``share / weight · remaining``. Integer shares multiply first (``share · remaining``
    is exact, so a whole quota stays whole); float shares divide first. Both orders are the
    ones pruning and sparse training used before they shared this function, so counts are
    unchanged."""
    if isinstance(share, int) and isinstance(weight, int):
        return share * remaining / weight
    return share / weight * remaining


def allocate_counts(shares: Sequence[float], total: int, capacity: Sequence[int]) -> list[int]:
    """Integers ∝ ``shares`` summing exactly to ``total``, each at most its ``capacity``.

    Tensors whose share would exceed their capacity are filled and the rest re-solved;
    the remainder after flooring goes to the largest fractional parts (ties: first tensor).
    """
    if total > sum(capacity):
        raise UsageError(f"cannot place {total} entries in tensors holding {sum(capacity)}")
    counts = [0] * len(shares)
    free = [i for i in range(len(shares)) if capacity[i] > 0 and shares[i] > 0]
    remaining = total
    while free and remaining > 0:
        weight = sum(shares[i] for i in free)
        full = [i for i in free if _quota(shares[i], weight, remaining) >= capacity[i]]
        if not full:
            break
        for i in full:
            counts[i] = capacity[i]
            remaining -= capacity[i]
        free = [i for i in free if i not in full]
    if free and remaining > 0:
        weight = sum(shares[i] for i in free)
        exact = {i: _quota(shares[i], weight, remaining) for i in free}
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


def _uniform(shapes: list[torch.Size]) -> list[float]:
    return [1.0 for _ in shapes]


def _erdos_renyi(shapes: list[torch.Size]) -> list[float]:
    """ERK raw densities: sum of the dimensions over their product (Evci et al. 2020)."""
    return [sum(shape) / math.prod(shape) for shape in shapes]


#: Distributions of a density over tensors: name -> relative per-tensor densities.
DISTRIBUTIONS: dict[str, Callable[[list[torch.Size]], list[float]]] = {
    "uniform": _uniform,
    "erdos_renyi": _erdos_renyi,
}


def layer_counts(shapes: list[torch.Size], density: float, distribution: str) -> list[int]:
    """Kept entries per tensor for a total ``density`` (exactly ``round(density · total)``).

    ``distribution``: ``"uniform"`` (same density everywhere) or ``"erdos_renyi"``
    (ERK: density ∝ Σ dims / Π dims; tensors that would exceed 1 are made dense).
    """
    if not 0.0 < density <= 1.0:
        raise UsageError(f"density must be in (0, 1], got {density}")
    raw = lookup(DISTRIBUTIONS, distribution, "sparsity distribution")(shapes)
    sizes = [math.prod(shape) for shape in shapes]
    total = round(density * sum(sizes))
    return allocate_counts([r * n for r, n in zip(raw, sizes, strict=True)], total, sizes)
