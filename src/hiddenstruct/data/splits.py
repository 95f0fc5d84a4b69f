"""Seeded, stratified, exactly sized hold-out splits."""

from __future__ import annotations

import numpy as np

from hiddenstruct.errors import UsageError


def stratified_holdout(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(keep, holdout) index arrays: exactly ``round(len · fraction)`` held out, class-stratified.

    Each class gives its proportional share (largest remainders get the leftover slots);
    which items are held out is a seeded random choice. Both arrays are sorted.
    """
    if not 0.0 <= fraction <= 1.0:
        raise UsageError(f"hold-out fraction must be in [0, 1], got {fraction}")
    labels = np.asarray(labels)
    n = len(labels)
    n_out = round(n * fraction)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * (n_out / n) if n else counts.astype(float)
    quota = np.floor(exact).astype(np.int64)
    leftover = n_out - int(quota.sum())
    if leftover > 0:
        order = np.argsort(-(exact - quota), kind="stable")
        quota[order[:leftover]] += 1
    rng = np.random.default_rng(seed)
    held = [
        rng.permutation(np.flatnonzero(labels == c))[:q]
        for c, q in zip(classes, quota, strict=True)
    ]
    holdout = np.sort(np.concatenate(held)) if held else np.empty(0, dtype=np.int64)
    keep_mask = np.ones(n, dtype=bool)
    keep_mask[holdout] = False
    return np.flatnonzero(keep_mask), holdout
