"""scikit-learn's bundled 8×8 digits: the embedded image data for quick runs (no files needed)."""

from __future__ import annotations

import numpy as np

from hiddenstruct.data.splits import stratified_holdout
from hiddenstruct.errors import UsageError, check_choice

SPLITS = ("train", "val", "test")
NUM_CLASSES = 10
MAX_VALUE = 16  # pixel values are 0..16


def load_digits_split(
    split: str = "train", test_fraction: float = 0.25, val_fraction: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, 8, 8] in 0..16, labels int64 [N]) of ``train``, ``val`` or ``test``.

    ``test`` is a stratified, seeded ``test_fraction`` of the 1 797 images; ``val`` a
    ``val_fraction`` of the remainder; ``train`` the rest. The three never overlap.
    """
    from sklearn.datasets import load_digits

    check_choice(split, SPLITS, "digits split")
    if split == "val" and val_fraction <= 0:
        raise UsageError("split 'val' needs val_fraction > 0")
    bunch = load_digits()
    images = bunch.images.astype(np.uint8)
    labels = bunch.target.astype(np.int64)
    rest, test = stratified_holdout(labels, test_fraction, seed)
    if split == "test":
        return images[test], labels[test]
    keep, val = stratified_holdout(labels[rest], val_fraction, seed + 1)
    index = rest[val] if split == "val" else rest[keep]
    return images[index], labels[index]
