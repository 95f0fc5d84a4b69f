"""CIFAR-10 pickle batches: generated round trips, validation, val hold-out, real shared copy."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from hiddenstruct.data.cifar10 import TRAIN_BATCHES, label_names, load_cifar10, read_batch
from hiddenstruct.errors import DataError, UsageError


def _write_batch(path, data, labels, protocol=2, filenames=False):
    batch = {b"batch_label": b"fake", b"labels": list(map(int, labels)), b"data": data}
    if filenames:
        batch[b"filenames"] = [b"x.png"] * len(labels)
    path.write_bytes(pickle.dumps(batch, protocol=protocol))


def _fake_cifar(root, per_batch=20, test=False, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    all_data, all_labels = [], []
    for i, name in enumerate(TRAIN_BATCHES):
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = np.arange(per_batch) % 10
        _write_batch(folder / name, data, labels, protocol=(2, 4, 5)[i % 3], filenames=i == 0)
        all_data.append(data)
        all_labels.append(labels)
    if test:
        _write_batch(folder / "test_batch", all_data[0][:5], all_labels[0][:5])
    return folder, np.concatenate(all_data).reshape(-1, 3, 32, 32), np.concatenate(all_labels)


def test_round_trip_and_layout(tmp_path) -> None:
    folder, images, labels = _fake_cifar(tmp_path)
    x, y = read_batch(folder / "data_batch_1")
    np.testing.assert_array_equal(x, images[:20])
    # channel-major rows: the first 1024 values are the red plane
    raw = pickle.loads((folder / "data_batch_1").read_bytes())[b"data"]
    np.testing.assert_array_equal(x[3, 0].ravel(), raw[3, :1024])
    np.testing.assert_array_equal(x[3, 2].ravel(), raw[3, 2048:])
    full_x, full_y = load_cifar10(tmp_path, "train", val_fraction=0.0)
    np.testing.assert_array_equal(full_x, images)
    np.testing.assert_array_equal(full_y, labels)


@pytest.mark.parametrize("root_level", ["parent", "folder"])
def test_val_holdout_is_disjoint_stratified_and_seeded(tmp_path, root_level) -> None:
    folder, images, labels = _fake_cifar(tmp_path)
    root = tmp_path if root_level == "parent" else folder
    tr_x, tr_y = load_cifar10(root, "train", val_fraction=0.2, seed=3)
    va_x, va_y = load_cifar10(root, "val", val_fraction=0.2, seed=3)
    assert len(va_y) == 20 and len(tr_y) == 80
    assert np.bincount(va_y, minlength=10).tolist() == [2] * 10
    # together they are exactly the training images, each once
    combined = np.concatenate([tr_x, va_x]).reshape(100, -1)
    original = images.reshape(100, -1)
    assert sorted(map(bytes, combined)) == sorted(map(bytes, original))
    va_again, _ = load_cifar10(root, "val", val_fraction=0.2, seed=3)
    va_other, _ = load_cifar10(root, "val", val_fraction=0.2, seed=4)
    np.testing.assert_array_equal(va_x, va_again)
    assert not np.array_equal(va_x, va_other)


def test_test_split(tmp_path) -> None:
    _fake_cifar(tmp_path / "a")
    with pytest.raises(DataError, match="test_batch"):
        load_cifar10(tmp_path / "a", "test")
    _fake_cifar(tmp_path / "b", test=True)
    x, y = load_cifar10(tmp_path / "b", "test")
    assert x.shape == (5, 3, 32, 32) and len(y) == 5


def test_bad_batches_name_the_file(tmp_path) -> None:
    folder, _, _ = _fake_cifar(tmp_path)
    _write_batch(folder / "data_batch_3", np.zeros((20, 3000), np.uint8), np.zeros(20, int))
    with pytest.raises(DataError, match="data_batch_3"):
        load_cifar10(tmp_path, "train")
    _write_batch(folder / "data_batch_3", np.zeros((20, 3072), np.uint8), np.zeros(19, int))
    with pytest.raises(DataError, match="data_batch_3"):
        load_cifar10(tmp_path, "train")
    _write_batch(folder / "data_batch_3", np.zeros((20, 3072), np.float32), np.zeros(20, int))
    with pytest.raises(DataError, match="uint8"):
        load_cifar10(tmp_path, "train")
    (folder / "data_batch_3").write_bytes(
        pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)})[:40]
    )
    with pytest.raises(DataError, match="truncated"):
        load_cifar10(tmp_path, "train")
    (folder / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3"):
        load_cifar10(tmp_path, "train")


def test_hostile_pickle_is_refused(tmp_path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    folder, _, _ = _fake_cifar(tmp_path)
    (folder / "data_batch_2").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(DataError, match="not allowed"):
        read_batch(folder / "data_batch_2")


def test_errors_for_missing_data_and_bad_arguments(tmp_path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_cifar10(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no CIFAR-10"):
        load_cifar10(tmp_path)
    _fake_cifar(tmp_path)
    with pytest.raises(UsageError):
        load_cifar10(tmp_path, "validation")
    with pytest.raises(UsageError):
        load_cifar10(tmp_path, "val", val_fraction=0.0)


def test_real_cifar10(cifar10_dir) -> None:
    tr_x, tr_y = load_cifar10(cifar10_dir, "train", val_fraction=0.1, seed=0)
    va_x, va_y = load_cifar10(cifar10_dir, "val", val_fraction=0.1, seed=0)
    assert tr_x.shape == (45_000, 3, 32, 32) and va_x.shape == (5_000, 3, 32, 32)
    assert np.bincount(tr_y).tolist() == [4_500] * 10 and np.bincount(va_y).tolist() == [500] * 10
    assert label_names(cifar10_dir)[0] == "airplane"
    with pytest.raises(DataError, match="test_batch"):
        load_cifar10(cifar10_dir, "test")
