"""Datasets: the Reber grammar (generated), MNIST (IDX), CIFAR-10 (pickle batches), digits.

Names are resolved lazily so that ``from hiddenstruct.data.reber import is_reber`` (and the
``reber`` CLI) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> module under hiddenstruct.data that defines it
_EXPORTS: dict[str, str] = {
    "GRAMMARS": "reber",
    "ReberDataset": "reber",
    "ReberRow": "reber",
    "generate_reber_dataset": "reber",
    "is_embedded_reber": "reber",
    "is_reber": "reber",
    "read_reber_csv": "reber",
    "read_reber_csvs": "reber",
    "train_test_overlap": "reber",
    "content_checksum": "reber",
    "NEGATIVE_PROTOCOLS": "reber",
    "PAD_CODE": "reber_torch",
    "VOCAB_SIZE": "reber_torch",
    "ReberTorchDataset": "reber_torch",
    "encode": "reber_torch",
    "load_reber_splits": "reber_torch",
    "torch_splits": "reber_torch",
    "load_reber_data": "reber",
    "reber_collate": "reber_torch",
    "read_idx": "idx",
    "write_idx": "idx",
    "load_mnist": "mnist",
    "load_cifar10": "cifar10",
    "load_digits_split": "digits",
    "IMAGE_DATASETS": "images",
    "ImageDatasetInfo": "images",
    "image_dataset_info": "images",
    "load_image_arrays": "images",
    "load_image_dataset": "images",
    "stratified_holdout": "splits",
    "download": "download",
    "check_data_dir": "check",
}
_SUBMODULES = (
    "reber",
    "reber_csv",
    "reber_dataset",
    "reber_grammar",
    "reber_negatives",
    "reber_torch",
    "idx",
    "mnist",
    "cifar10",
    "digits",
    "images",
    "splits",
    "check",
)

__all__ = [
    "GRAMMARS",
    "NEGATIVE_PROTOCOLS",
    "content_checksum",
    "read_reber_csvs",
    "train_test_overlap",
    "reber_csv",
    "reber_dataset",
    "reber_grammar",
    "reber_negatives",
    "IMAGE_DATASETS",
    "ImageDatasetInfo",
    "PAD_CODE",
    "ReberDataset",
    "ReberRow",
    "ReberTorchDataset",
    "VOCAB_SIZE",
    "check",
    "cifar10",
    "digits",
    "download",
    "encode",
    "generate_reber_dataset",
    "idx",
    "image_dataset_info",
    "images",
    "is_embedded_reber",
    "is_reber",
    "load_cifar10",
    "load_digits_split",
    "load_image_arrays",
    "load_image_dataset",
    "load_mnist",
    "load_reber_splits",
    "load_reber_data",
    "torch_splits",
    "mnist",
    "read_idx",
    "read_reber_csv",
    "reber",
    "reber_collate",
    "reber_torch",
    "splits",
    "stratified_holdout",
    "write_idx",
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"hiddenstruct.data.{name}")
    if name in _EXPORTS:
        module = importlib.import_module(f"hiddenstruct.data.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'hiddenstruct.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
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
        NEGATIVE_PROTOCOLS,
        ReberDataset,
        ReberRow,
        content_checksum,
        generate_reber_dataset,
        is_embedded_reber,
        is_reber,
        load_reber_data,
        read_reber_csv,
        read_reber_csvs,
        train_test_overlap,
    )
    from hiddenstruct.data.reber_torch import (
        PAD_CODE,
        VOCAB_SIZE,
        ReberTorchDataset,
        encode,
        load_reber_splits,
        reber_collate,
        torch_splits,
    )
    from hiddenstruct.data.splits import stratified_holdout
