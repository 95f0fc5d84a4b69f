"""Datasets: the Reber grammar (generated), MNIST (IDX), CIFAR-10 (pickle batches), digits."""

from __future__ import annotations

from hiddenstruct.data import cifar10, digits, idx, mnist, reber
from hiddenstruct.data.cifar10 import load_cifar10
from hiddenstruct.data.digits import load_digits_split
from hiddenstruct.data.idx import read_idx, write_idx
from hiddenstruct.data.images import (
    IMAGE_DATASETS,
    ImageDatasetInfo,
    image_dataset_info,
    load_image_arrays,
    load_image_dataset,
)
from hiddenstruct.data.mnist import load_mnist
from hiddenstruct.data.reber import (
    GRAMMARS,
    ReberDataset,
    ReberRow,
    generate_reber_dataset,
    is_embedded_reber,
    is_reber,
    read_reber_csv,
)
from hiddenstruct.data.reber_torch import (
    PAD_CODE,
    VOCAB_SIZE,
    ReberTorchDataset,
    encode,
    load_reber_splits,
    reber_collate,
)

__all__ = [
    "GRAMMARS",
    "IMAGE_DATASETS",
    "ImageDatasetInfo",
    "cifar10",
    "digits",
    "idx",
    "image_dataset_info",
    "load_cifar10",
    "load_digits_split",
    "load_image_arrays",
    "load_image_dataset",
    "load_mnist",
    "mnist",
    "read_idx",
    "write_idx",
    "PAD_CODE",
    "VOCAB_SIZE",
    "ReberDataset",
    "ReberRow",
    "ReberTorchDataset",
    "encode",
    "generate_reber_dataset",
    "is_embedded_reber",
    "is_reber",
    "load_reber_splits",
    "read_reber_csv",
    "reber",
    "reber_collate",
]
