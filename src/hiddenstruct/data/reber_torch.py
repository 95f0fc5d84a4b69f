"""Torch side of the Reber data: ASCII-code datasets and a padding collate.

Batches follow the project convention (last element is the target)::

    loader = DataLoader(ReberTorchDataset(strings, labels), batch_size=32, collate_fn=reber_collate)
    padded, lengths, labels = next(iter(loader))   # model(padded, lengths) -> logits
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from hiddenstruct.data.reber import ReberDataset, generate_reber_dataset
from hiddenstruct.errors import DataError

PAD_CODE = 0
VOCAB_SIZE = 128  # ASCII: an nn.Embedding(VOCAB_SIZE, d, padding_idx=PAD_CODE) accepts every code


def encode(string: str) -> torch.Tensor:
    """ASCII codes of ``string`` as a LongTensor [len]."""
    try:
        data = string.encode("ascii")
    except UnicodeEncodeError:
        raise DataError(f"string {string!r} is not ASCII") from None
    if not data:
        raise DataError("empty strings cannot be encoded (length 0 is reserved for padding)")
    if PAD_CODE in data:
        raise DataError(f"string {string!r} contains the padding code {PAD_CODE}")
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).long()


class ReberTorchDataset(Dataset):
    """Strings as ASCII-code LongTensors with int64 labels; item i is ``(codes, label)``."""

    def __init__(self, strings: Sequence[str], labels: Sequence[int]) -> None:
        if len(strings) != len(labels):
            raise DataError(f"{len(strings)} strings but {len(labels)} labels")
        self.strings = list(strings)
        self.codes = [encode(s) for s in self.strings]
        self.labels = torch.as_tensor(list(labels), dtype=torch.long)

    @classmethod
    def from_dataset(cls, dataset: ReberDataset, split: str) -> ReberTorchDataset:
        """The ``train`` or ``test`` split of a :class:`ReberDataset`."""
        return cls(*dataset.split(split))

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.codes[index], self.labels[index]


def reber_collate(
    batch: Sequence[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad with 0 to ``(padded LongTensor[B, T], lengths LongTensor[B], labels LongTensor[B])``."""
    if not batch:
        raise DataError("cannot collate an empty batch")
    codes = [item[0] for item in batch]
    lengths = torch.tensor([len(c) for c in codes], dtype=torch.long)
    # one scatter of the concatenated codes into a zero matrix (faster than pad_sequence here)
    valid = torch.arange(int(lengths.max())) < lengths[:, None]
    padded = torch.full(valid.shape, PAD_CODE, dtype=torch.long)
    padded[valid] = torch.cat(codes)
    targets = [item[1] for item in batch]
    if all(isinstance(t, torch.Tensor) for t in targets):
        labels = torch.stack(targets).long()
    else:
        labels = torch.tensor(targets, dtype=torch.long)
    return padded, lengths, labels


def load_reber_splits(
    n: int = 25_000,
    seed: int = 0,
    test_fraction: float = 0.25,
    hard_fraction: float = 0.5,
    **options,
) -> tuple[ReberTorchDataset, ReberTorchDataset]:
    """Generate the dataset and return its (train, test) torch datasets; options as in generation."""
    return torch_splits(generate_reber_dataset(n, seed, test_fraction, hard_fraction, **options))


def torch_splits(dataset: ReberDataset) -> tuple[ReberTorchDataset, ReberTorchDataset]:
    """The (train, test) torch datasets of a :class:`ReberDataset` (generated or read from CSV)."""
    return ReberTorchDataset.from_dataset(dataset, "train"), ReberTorchDataset.from_dataset(
        dataset, "test"
    )
