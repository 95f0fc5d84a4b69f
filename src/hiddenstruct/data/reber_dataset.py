"""A labelled Reber dataset with its split, CSV text, content checksum and train/test overlap.

The checksum is the data's identity in a trial: the SHA-256 of the normalized CSV text
(``string,valid,split`` rows in dataset order, labels 0/1, ``\\n`` endings), so the same rows
read from one CSV with a ``split`` column or from a train and a test file hash alike.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from hiddenstruct.data._files import atomic_write_text
from hiddenstruct.errors import check_choice

SPLITS = ("train", "test")
# kinds of rows: positives, the negatives of each protocol, "negative" = read back from a CSV
KINDS = ("positive", "hard", "random", "foreign", "negative")


class ReberRow(NamedTuple):
    """One CSV row: the string, 1/0 in-grammar label and ``train``/``test``."""

    string: str
    valid: int
    split: str


@dataclass(frozen=True)
class ReberDataset:
    """Strings with labels (1 = in grammar), split names and kinds (see :data:`KINDS`)."""

    strings: tuple[str, ...]
    labels: tuple[int, ...]
    splits: tuple[str, ...]
    kinds: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.strings)

    def rows(self) -> Iterator[ReberRow]:
        """The rows in file order."""
        return (ReberRow(*row) for row in zip(self.strings, self.labels, self.splits, strict=True))

    def count(self, split: str | None = None, label: int | None = None) -> int:
        """Number of rows in ``split`` (all when None) with ``label`` (any when None)."""
        return sum(
            1
            for s, y in zip(self.splits, self.labels, strict=True)
            if (split is None or s == split) and (label is None or y == label)
        )

    def split(self, name: str) -> tuple[list[str], list[int]]:
        """The strings and labels of split ``name`` (``train`` or ``test``)."""
        check_choice(name, SPLITS, "split")
        pairs = [
            (s, y)
            for s, y, sp in zip(self.strings, self.labels, self.splits, strict=True)
            if sp == name
        ]
        return [s for s, _ in pairs], [y for _, y in pairs]

    def leakage(self) -> float:
        """Fraction of test strings that also occur in the training split (0 with unique=True)."""
        return train_test_overlap(self)["test_in_train"]

    def to_csv_text(self) -> str:
        """The CSV text: header ``string,valid,split`` then one row per string, ``\\n`` endings."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(ReberRow._fields)
        writer.writerows(self.rows())
        return buffer.getvalue()

    def to_csv(self, path: str | Path) -> Path:
        """Write the CSV atomically (temporary file, then rename); returns the path."""
        return atomic_write_text(Path(path), self.to_csv_text())

    def checksum(self) -> str:
        """``sha256:<hex>`` of the normalized CSV text: the data's identity in a trial."""
        return content_checksum(self)


def content_checksum(dataset: ReberDataset) -> str:
    """``sha256:<hex>`` of ``dataset.to_csv_text()`` (rows in order, labels 0/1)."""
    return "sha256:" + hashlib.sha256(dataset.to_csv_text().encode("utf-8")).hexdigest()


def train_test_overlap(dataset: ReberDataset) -> dict[str, float | int]:
    """How much the test split repeats the training split (for every Reber experiment's outputs).

    ``test_in_train``: share of test rows whose string occurs in train (NaN when the test
    split is empty: undefined); ``shared_strings``: distinct strings in both splits; ``duplicate_rows``:
    rows whose string occurred earlier in the same split; ``conflicting_labels``: distinct
    strings that carry both labels somewhere in the data.
    """
    train: set[str] = set()
    seen: dict[str, set[str]] = {"train": set(), "test": set()}
    labels: dict[str, set[int]] = {}
    duplicates = 0
    for string, label, split in zip(dataset.strings, dataset.labels, dataset.splits, strict=True):
        duplicates += string in seen[split]
        seen[split].add(string)
        labels.setdefault(string, set()).add(label)
        if split == "train":
            train.add(string)
    test = [s for s, sp in zip(dataset.strings, dataset.splits, strict=True) if sp == "test"]
    return {
        "test_in_train": sum(s in train for s in test) / len(test) if test else math.nan,
        "shared_strings": len(seen["train"] & seen["test"]),
        "duplicate_rows": duplicates,
        "conflicting_labels": sum(len(v) > 1 for v in labels.values()),
    }
