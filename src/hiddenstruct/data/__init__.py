"""Datasets: the Reber grammar (generated), MNIST (IDX), CIFAR-10 (pickle batches), digits.

Names are imported lazily (PEP 562, :mod:`hiddenstruct.lazy`) so that
``from hiddenstruct.data.reber import is_reber`` (and the ``reber`` CLI) does not import torch.
"""

from __future__ import annotations

# A function named as its module is bound now: importing the submodule later would otherwise
# rebind the package attribute to the module (as in hiddenstruct.graphs).
from hiddenstruct.data.download import download as download
from hiddenstruct.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "reber": (
            "GRAMMARS",
            "ReberDataset",
            "ReberRow",
            "generate_reber_dataset",
            "is_embedded_reber",
            "is_reber",
            "read_reber_csv",
            "read_reber_csvs",
            "train_test_overlap",
            "content_checksum",
            "NEGATIVE_PROTOCOLS",
            "load_reber_data",
        ),
        "reber_torch": (
            "PAD_CODE",
            "VOCAB_SIZE",
            "ReberTorchDataset",
            "encode",
            "load_reber_splits",
            "torch_splits",
            "reber_collate",
        ),
        "idx": ("read_idx", "write_idx"),
        "mnist": ("load_mnist",),
        "cifar10": ("load_cifar10",),
        "digits": ("load_digits_split",),
        "images": (
            "IMAGE_DATASETS",
            "ImageDatasetInfo",
            "image_dataset_info",
            "load_image_arrays",
            "load_image_dataset",
        ),
        "splits": ("stratified_holdout",),
        "download": ("download",),
        "check": ("check_data_dir",),
    },
    submodules=(
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
    ),
)
