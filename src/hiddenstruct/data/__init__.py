"""Datasets: the Reber grammar (generated), MNIST (IDX), CIFAR-10 (pickle batches), digits."""

from __future__ import annotations

from hiddenstruct.data import reber
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
