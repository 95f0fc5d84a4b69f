"""MNIST from its four IDX files (``.gz`` or raw) in a data folder or one of its subfolders."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hiddenstruct.data.idx import read_idx
from hiddenstruct.data.locate import find_file, find_folder, require_dir
from hiddenstruct.errors import DataError, lookup

LABELS_MAGIC = 2049
IMAGES_MAGIC = 2051
SPLIT_PREFIX = {"train": "train", "test": "t10k"}
SPLIT_SIZE = {"train": 60_000, "test": 10_000}  # of the official release; other sizes are accepted
SUBFOLDERS = ("", "mnist", "MNIST/raw", "mnist/MNIST/raw", "MNIST")
NUM_CLASSES = 10


def _names(prefix: str, kind: str, rank: int) -> list[str]:
    base = [f"{prefix}-{kind}-idx{rank}-ubyte", f"{prefix}-{kind}.idx{rank}-ubyte"]
    return [name + ".gz" for name in base] + base


def mnist_folder(data_dir: str | Path) -> Path:
    """The folder holding the MNIST files: ``data_dir`` itself or a known subfolder."""
    root = require_dir(data_dir, "MNIST")
    markers = [n for prefix in SPLIT_PREFIX.values() for n in _names(prefix, "labels", 1)]
    folder = find_folder(root, SUBFOLDERS, markers)
    if folder is None:
        raise DataError(
            f"no MNIST files in {root} or its subfolders {[s for s in SUBFOLDERS if s]} "
            "(expected train-images-idx3-ubyte.gz and friends; try `hiddenstruct data download`)"
        )
    return folder


def mnist_paths(data_dir: str | Path, split: str) -> tuple[Path, Path]:
    """(images, labels) files of ``split``; DataError naming the missing file."""
    prefix = lookup(SPLIT_PREFIX, split, "MNIST split")
    folder = mnist_folder(data_dir)
    found = []
    for kind, rank in (("images", 3), ("labels", 1)):
        names = _names(prefix, kind, rank)
        path = find_file(folder, names)
        if path is None:
            raise DataError(
                f"MNIST {split} {kind} file {folder / names[0]} not found (nor {names[1:]})"
            )
        found.append(path)
    return found[0], found[1]


def load_mnist(data_dir: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, 28, 28], labels int64 [N]) of the ``train`` or ``test`` split, validated."""
    images_path, labels_path = mnist_paths(data_dir, split)
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{images_path}: images of shape {images.shape[1:]}, expected (28, 28)")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} {len(labels)} labels"
        )
    if len(labels) and labels.max() >= NUM_CLASSES:
        raise DataError(f"{labels_path}: label {int(labels.max())} outside 0..{NUM_CLASSES - 1}")
    return images, labels.astype(np.int64)
