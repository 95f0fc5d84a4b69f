"""Registry of image datasets as torch TensorDatasets (float images in [0, 1], int64 labels).

    >>> ds = load_image_dataset("digits", split="train", seed=0)
    >>> images, labels = ds.tensors          # [N, 1, 8, 8] float32, [N] int64

MNIST and CIFAR-10 read files from ``data_dir``; digits is embedded in scikit-learn. Every
dataset has splits ``train``, ``val`` and ``test``: ``val`` is a seeded, stratified
``val_fraction`` held out of the training data and ``train`` is the rest (pass
``val_fraction=0`` for all training images).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from hiddenstruct.data.cifar10 import load_cifar10
from hiddenstruct.data.digits import load_digits_split
from hiddenstruct.data.mnist import load_mnist
from hiddenstruct.data.splits import stratified_holdout
from hiddenstruct.errors import UsageError, check_choice, lookup

SPLITS = ("train", "val", "test")

# loader(data_dir, split, val_fraction, seed, test_fraction) -> (uint8 images, int64 labels)
Loader = Callable[[Path | None, str, float, int, float], tuple[np.ndarray, np.ndarray]]


def _mnist(data_dir, split, val_fraction, seed, test_fraction):
    if split == "test":
        return load_mnist(data_dir, "test")
    if split == "val" and val_fraction <= 0:
        raise UsageError("split 'val' needs val_fraction > 0")
    images, labels = load_mnist(data_dir, "train")
    keep, held = stratified_holdout(labels, val_fraction, seed)
    index = held if split == "val" else keep
    return images[index], labels[index]


def _cifar10(data_dir, split, val_fraction, seed, test_fraction):
    return load_cifar10(data_dir, split, val_fraction=val_fraction, seed=seed)


def _digits(data_dir, split, val_fraction, seed, test_fraction):
    return load_digits_split(
        split, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed
    )


@dataclass(frozen=True)
class ImageDatasetInfo:
    """What a model needs to know: input shape (C, H, W), classes, pixel scale, whether files are needed."""

    name: str
    shape: tuple[int, int, int]
    num_classes: int
    max_value: int
    needs_data_dir: bool
    loader: Loader

    @property
    def input_size(self) -> int:
        """Number of features of a flattened image."""
        return int(np.prod(self.shape))


IMAGE_DATASETS: dict[str, ImageDatasetInfo] = {
    "mnist": ImageDatasetInfo("mnist", (1, 28, 28), 10, 255, True, _mnist),
    "cifar10": ImageDatasetInfo("cifar10", (3, 32, 32), 10, 255, True, _cifar10),
    "digits": ImageDatasetInfo("digits", (1, 8, 8), 10, 16, False, _digits),
}


def image_dataset_info(name: str) -> ImageDatasetInfo:
    """The registry entry for ``name``; a UsageError lists the valid names otherwise."""
    return lookup(IMAGE_DATASETS, name, "image dataset")


def load_image_arrays(
    name: str,
    data_dir: str | Path | None = None,
    split: str = "train",
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    test_fraction: float = 0.25,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw (uint8 images [N, C, H, W], int64 labels [N]) of a registered dataset."""
    info = image_dataset_info(name)
    check_choice(split, SPLITS, "split")
    for label, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise UsageError(f"{label} must be in [0, 1), got {value}")
    path = Path(data_dir) if data_dir is not None else None
    images, labels = info.loader(path, split, val_fraction, seed, test_fraction)
    return images.reshape(len(images), *info.shape), labels


def load_image_dataset(
    name: str,
    data_dir: str | Path | None = None,
    split: str = "train",
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    test_fraction: float = 0.25,
    flatten: bool = False,
) -> TensorDataset:
    """TensorDataset of float32 images in [0, 1] ([N, C, H, W], or [N, C·H·W] when ``flatten``) and int64 labels.

    ``test_fraction`` only matters for digits (MNIST and CIFAR-10 have fixed test files).
    """
    info = image_dataset_info(name)
    images, labels = load_image_arrays(
        name, data_dir, split, val_fraction=val_fraction, seed=seed, test_fraction=test_fraction
    )
    x = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32).div_(info.max_value)
    if flatten:
        x = x.reshape(len(x), -1)
    return TensorDataset(x, torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64)))
