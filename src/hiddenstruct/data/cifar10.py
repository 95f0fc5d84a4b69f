"""CIFAR-10 from the python pickle batches (``data_batch_1..5``, optional ``test_batch``).

Works without the ``filenames`` key and without ``test_batch`` (the shared copy has neither):
split ``val`` is a seeded, stratified hold-out of the training batches, ``train`` the rest;
``test`` needs ``test_batch`` and says so when it is absent. Unpickling is restricted to the
numpy types a batch contains, so a hostile file cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from hiddenstruct.data.locate import find_folder, require_dir
from hiddenstruct.data.splits import stratified_holdout
from hiddenstruct.errors import DataError, UsageError, check_choice

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
SUBFOLDERS = ("", "cifar-10-batches-py", "cifar10/cifar-10-batches-py", "cifar10", "cifar-10")
LABEL_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
NUM_CLASSES = 10
SPLITS = ("train", "val", "test")

_ALLOWED = {
    ("_codecs", "encode"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module.startswith("numpy.core"):
            module = "numpy._core" + module[len("numpy.core") :]
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")
        return super().find_class(module, name)


def _unpickle(path: Path) -> object:
    try:
        with path.open("rb") as handle:
            return _BatchUnpickler(handle, encoding="bytes").load()
    except FileNotFoundError:
        raise DataError(f"CIFAR-10 file {path} not found") from None
    except Exception as err:  # pickle raises many types on corrupt input
        raise DataError(
            f"corrupt or truncated CIFAR-10 file {path}: {type(err).__name__}: {err}"
        ) from None


def _get(batch: dict, key: str) -> object:
    for candidate in (key.encode(), key):
        if candidate in batch:
            return batch[candidate]
    return None


def read_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [k, 3, 32, 32], labels int64 [k]) of one pickle batch, validated."""
    path = Path(path)
    batch = _unpickle(path)
    if not isinstance(batch, dict):
        raise DataError(f"{path}: expected a pickled dict, got {type(batch).__name__}")
    data, labels = _get(batch, "data"), _get(batch, "labels")
    if data is None or labels is None:
        raise DataError(f"{path}: missing key 'data' or 'labels' (keys: {sorted(map(str, batch))})")
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(
            f"{path}: data has shape {data.shape} and dtype {data.dtype}, expected (k, 3072) uint8"
        )
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(data) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{path}: {len(data)} images but labels of shape {labels.shape} ({labels.dtype})"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise DataError(f"{path}: labels outside 0..{NUM_CLASSES - 1}")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def cifar10_folder(data_dir: str | Path) -> Path:
    """The folder holding the batches: ``data_dir`` itself or a known subfolder."""
    root = require_dir(data_dir, "CIFAR-10")
    folder = find_folder(root, SUBFOLDERS, (TRAIN_BATCHES[0], TEST_BATCH))
    if folder is None:
        raise DataError(
            f"no CIFAR-10 batches in {root} or its subfolders {[s for s in SUBFOLDERS if s]} "
            "(expected cifar-10-batches-py/data_batch_1; try `hiddenstruct data download`)"
        )
    return folder


def label_names(data_dir: str | Path) -> tuple[str, ...]:
    """Class names from ``batches.meta`` when present, the standard ones otherwise."""
    path = cifar10_folder(data_dir) / META
    if not path.exists():
        return LABEL_NAMES
    meta = _unpickle(path)
    names = _get(meta, "label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != NUM_CLASSES:
        raise DataError(f"{path}: expected {NUM_CLASSES} label_names")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def load_cifar10(
    data_dir: str | Path, split: str = "train", val_fraction: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, 3, 32, 32], labels int64 [N]) of ``train``, ``val`` or ``test``.

    ``val`` holds ``round(50 000 · val_fraction)`` training images (stratified, seeded);
    ``train`` the others, so the two never overlap for the same ``val_fraction`` and ``seed``.
    """
    check_choice(split, SPLITS, "CIFAR-10 split")
    if split == "val" and val_fraction <= 0:
        raise UsageError("split 'val' needs val_fraction > 0")
    folder = cifar10_folder(data_dir)
    if split == "test":
        if not (folder / TEST_BATCH).exists():
            raise DataError(
                f"CIFAR-10 test batch {folder / TEST_BATCH} not found; this copy has no test split, "
                "use split 'val' (held out from the training batches) instead"
            )
        return read_batch(folder / TEST_BATCH)
    parts = [read_batch(folder / name) for name in TRAIN_BATCHES]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    keep, held = stratified_holdout(labels, val_fraction, seed)
    index = held if split == "val" else keep
    return images[index], labels[index]
