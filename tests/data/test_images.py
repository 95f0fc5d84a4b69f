"""Image dataset registry: TensorDataset shapes, scaling, splits, hold-outs, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenstruct.data.idx import write_idx
from hiddenstruct.data.images import IMAGE_DATASETS, image_dataset_info, load_image_dataset
from hiddenstruct.data.splits import stratified_holdout
from hiddenstruct.errors import DataError, UsageError


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 4), min_size=1, max_size=80),
    st.floats(0.0, 1.0),
    st.integers(0, 1000),
)
def test_stratified_holdout_invariants(labels, fraction, seed) -> None:
    labels = np.array(labels)
    keep, held = stratified_holdout(labels, fraction, seed)
    assert len(held) == round(len(labels) * fraction)
    assert sorted(np.concatenate([keep, held]).tolist()) == list(range(len(labels)))
    for c in np.unique(labels):  # each class within one of its proportional share
        share = np.sum(labels == c) * len(held) / len(labels)
        assert abs(np.sum(labels[held] == c) - share) < 1 + 1e-9
    keep2, held2 = stratified_holdout(labels, fraction, seed)
    assert np.array_equal(held, held2) and np.array_equal(keep, keep2)


def test_digits_splits_disjoint_and_scaled() -> None:
    parts = {s: load_image_dataset("digits", split=s, seed=1) for s in ("train", "val", "test")}
    sizes = {s: len(d) for s, d in parts.items()}
    assert sum(sizes.values()) == 1797 and sizes["test"] == round(1797 * 0.25)
    rows = []
    for d in parts.values():
        x, y = d.tensors
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert x.shape[1:] == (1, 8, 8) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
        rows += [
            (tuple((r * 16).round().int().tolist()), int(t))
            for r, t in zip(x.reshape(len(x), -1), y, strict=True)
        ]
    from sklearn.datasets import load_digits

    full = load_digits()
    expected = [
        (tuple(r.astype(int).tolist()), int(t)) for r, t in zip(full.data, full.target, strict=True)
    ]
    assert sorted(rows) == sorted(expected)  # the three splits partition the dataset
    assert float(parts["train"].tensors[0].max()) == 1.0
    flat = load_image_dataset("digits", split="test", seed=1, flatten=True)
    assert flat.tensors[0].shape == (sizes["test"], 64)
    other = load_image_dataset("digits", split="test", seed=2)
    assert not torch.equal(other.tensors[0], parts["test"].tensors[0])


def test_mnist_registry_on_generated_files(tmp_path) -> None:
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    train_labels = np.arange(50, dtype=np.uint8) % 10
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", train)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", train_labels)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", train[:7])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", train_labels[:7])
    tr = load_image_dataset("mnist", tmp_path, "train", val_fraction=0.2)
    va = load_image_dataset("mnist", tmp_path, "val", val_fraction=0.2)
    te = load_image_dataset("mnist", tmp_path, "test")
    assert (len(tr), len(va), len(te)) == (40, 10, 7)
    assert tr.tensors[0].shape == (40, 1, 28, 28)
    assert torch.allclose(te.tensors[0][:, 0] * 255, torch.from_numpy(train[:7]).float())
    assert len(load_image_dataset("mnist", tmp_path, "train", val_fraction=0.0)) == 50
    with pytest.raises(UsageError):
        load_image_dataset("mnist", tmp_path, "val", val_fraction=0.0)


def test_registry_errors(tmp_path) -> None:
    with pytest.raises(UsageError, match="cifar10"):
        image_dataset_info("imagenet")
    with pytest.raises(UsageError, match="unknown split 'dev'; valid: train, val, test$"):
        load_image_dataset("digits", split="dev")
    with pytest.raises(UsageError):
        load_image_dataset("digits", val_fraction=1.0)
    with pytest.raises(DataError, match="--data-dir"):
        load_image_dataset("mnist", None)
    with pytest.raises(DataError, match="does not exist"):
        load_image_dataset("cifar10", tmp_path / "missing")


def test_info_matches_loaded_shapes() -> None:
    info = IMAGE_DATASETS["digits"]
    x, y = load_image_dataset("digits", split="val").tensors
    assert x.shape[1:] == info.shape and info.input_size == 64
    assert int(y.max()) < info.num_classes


def test_real_mnist_tensors(mnist_dir) -> None:
    tr = load_image_dataset("mnist", mnist_dir.parent, "train", val_fraction=0.1)
    te = load_image_dataset("mnist", mnist_dir, "test")
    assert tr.tensors[0].shape == (54_000, 1, 28, 28) and te.tensors[0].shape == (10_000, 1, 28, 28)
    assert float(tr.tensors[0].max()) == 1.0 and float(tr.tensors[0].min()) == 0.0
