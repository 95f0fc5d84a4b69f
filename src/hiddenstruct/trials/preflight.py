"""Checks a sweep runs before it queues any trial: its data loads and its outputs can be
written. A failure is one :class:`~hiddenstruct.errors.DataError` naming the file and the cause
(exit 1) or, for an output folder that cannot be written, a
:class:`~hiddenstruct.errors.UsageError` (exit 2), and nothing is written to the store —
instead of N queued trials that all fail the same way. Which data an experiment reads is the
experiment's to say (``Experiment.check_data``); these are the checks it uses.

Example::

    >>> check_image_data("mnist", "/data/mnist", splits=("train", "test"))
    DataError: mnist train split in /data/mnist is unusable: .../train-images-idx3-ubyte: magic number 2050, expected 2051
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hiddenstruct.errors import DataError
from hiddenstruct.outputs import check_output_folder


def check_image_data(
    dataset: str,
    data_dir: str | Path | None,
    splits: Sequence[str] = ("train", "test"),
    val_fraction: float = 0.0,
    seed: int = 0,
) -> None:
    """Load each split of an image dataset once; the first failure raises naming file and cause."""
    from hiddenstruct.data.check import check_split  # imports torch: not at CLI start-up
    from hiddenstruct.data.images import image_dataset_info

    info = image_dataset_info(dataset)
    folder = Path(data_dir) if data_dir is not None and info.needs_data_dir else None
    if info.needs_data_dir and (folder is None or not folder.is_dir()):
        raise DataError(
            f"{dataset} needs --data-dir: {data_dir or '(not given)'} is not a folder "
            f"(point it at the folder holding the {dataset} files)"
        )
    for split in splits:
        status = check_split(dataset, folder, split, val_fraction, seed)
        if not status.ok:
            where = f" in {folder}" if folder is not None else ""
            raise DataError(f"{dataset} {split} split{where} is unusable: {status.message}")


def check_output_dir(path: str | Path) -> Path:
    """Create ``path`` if needed and prove it is writable (:func:`outputs.check_output_folder`)."""
    return check_output_folder(path, create=True)


def failed_trials(store, hashes: Sequence[str]) -> list:
    """The failed records among ``hashes`` (in order): what a sweep left failed."""
    records = (store.get(h) for h in hashes)
    return [r for r in records if r is not None and r.status == "failed"]


def first_error_line(record) -> str:
    """The last line of a failed trial's traceback (the exception and its message)."""
    lines = (record.error or "unknown error").strip().splitlines()
    return lines[-1] if lines else "unknown error"
