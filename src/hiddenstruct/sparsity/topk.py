"""Top-k for masks: which ``k`` entries an update takes.

Pruning drops the lowest scores among live weights (:func:`lowest`: ties by position, so a
pruning run is reproducible to the entry, as docs/pruning.md promises); sparse training drops
the smallest magnitudes and regrows the highest scores (:func:`select_top`). The two differ
only in how ties are broken: :func:`select_top` keeps ``torch.topk``'s order, so that dynamic
sparse training runs give the same masks for the same seed as before the two shared this
module (ties happen: dead units have exactly zero gradients and weights).
"""

from __future__ import annotations

import math

import torch

__all__ = ["lowest", "select_top"]


def lowest(values: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` smallest entries of the 1-D ``values``; ties: lower index first.

    O(n) (``kthvalue``), not a sort. Raises ValueError on NaN.
    """
    if torch.isnan(values).any():
        raise ValueError("saliency scores contain NaN")
    n = values.numel()
    if k <= 0:
        return torch.empty(0, dtype=torch.long)
    if k >= n:
        return torch.arange(n)
    kth = torch.kthvalue(values, k).values
    below = torch.nonzero(values < kth).reshape(-1)
    ties = torch.nonzero(values == kth).reshape(-1)[: k - below.numel()]
    return torch.cat([below, ties])


def select_top(scores: torch.Tensor, allowed: torch.Tensor, count: int) -> torch.Tensor:
    """Boolean mask of the ``count`` largest ``scores`` among the ``allowed`` entries
    (``allowed``: a boolean tensor of the same shape; ties in ``torch.topk``'s order)."""
    chosen = torch.zeros_like(allowed)
    if count <= 0:
        return chosen
    flat = scores.reshape(-1).masked_fill(~allowed.reshape(-1), -math.inf)
    chosen.reshape(-1)[torch.topk(flat, count, sorted=False).indices] = True
    return chosen
