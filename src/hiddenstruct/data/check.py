"""Inventory of a data directory: which datasets and splits load, with counts and shapes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from hiddenstruct.data.images import IMAGE_DATASETS, load_image_arrays
from hiddenstruct.data.locate import require_dir
from hiddenstruct.errors import HiddenstructError

CHECKED_SPLITS: dict[str, tuple[str, ...]] = {
    "mnist": ("train", "val", "test"),
    "cifar10": ("train", "val", "test"),
    "digits": ("train", "val", "test"),
}


@dataclass(frozen=True)
class SplitStatus:
    """One dataset split: ``ok`` with count, shape and classes, or the reason it is unusable."""

    dataset: str
    split: str
    ok: bool
    count: int
    shape: tuple[int, ...]
    classes: int
    message: str

    def as_dict(self) -> dict:
        """JSON-friendly form."""
        return asdict(self)


def check_split(
    name: str, data_dir: Path | None, split: str, val_fraction: float, seed: int
) -> SplitStatus:
    """Load one split fully (so every check of the loader runs) and summarise it."""
    try:
        images, labels = load_image_arrays(
            name, data_dir, split, val_fraction=val_fraction, seed=seed
        )
    except HiddenstructError as err:
        return SplitStatus(name, split, False, 0, (), 0, str(err))
    return SplitStatus(
        name, split, True, len(labels), tuple(images.shape[1:]), len(set(labels.tolist())), ""
    )


def check_data_dir(
    data_dir: str | Path,
    datasets: tuple[str, ...] = ("mnist", "cifar10"),
    val_fraction: float = 0.1,
    seed: int = 0,
) -> list[SplitStatus]:
    """Status of every split of ``datasets`` (digits needs no folder); DataError if the folder is missing."""
    root = require_dir(data_dir, "data check")
    statuses = []
    for name in datasets:
        folder = root if IMAGE_DATASETS[name].needs_data_dir else None
        for split in CHECKED_SPLITS[name]:
            if split == "val" and val_fraction <= 0:
                continue
            statuses.append(check_split(name, folder, split, val_fraction, seed))
    return statuses
