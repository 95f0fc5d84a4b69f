"""IDX reader/writer and the MNIST loader on generated files and on the real shared copy."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from hiddenstruct.data.idx import encode_idx, parse_idx, read_idx, write_idx
from hiddenstruct.data.mnist import IMAGES_MAGIC, LABELS_MAGIC, load_mnist
from hiddenstruct.errors import DataError, UsageError


def _fake_mnist(folder, n_train=30, n_test=12, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-3, 7], dtype=np.int8),
        np.arange(6, dtype=np.int32).reshape(3, 2) - 2,
        np.linspace(-1, 1, 10, dtype=np.float32),
        np.linspace(-1, 1, 4, dtype=np.float64).reshape(2, 2),
    ],
)
def test_idx_round_trip(tmp_path, array) -> None:
    for name in ("a.idx", "a.idx.gz"):
        path = write_idx(tmp_path / name, array)
        back = read_idx(path)
        assert back.dtype == array.dtype and back.shape == array.shape
        np.testing.assert_array_equal(back, array)
    assert (tmp_path / "a.idx.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_idx_magic_numbers() -> None:
    assert int.from_bytes(encode_idx(np.zeros((2, 28, 28), np.uint8))[:4], "big") == IMAGES_MAGIC
    assert int.from_bytes(encode_idx(np.zeros(5, np.uint8))[:4], "big") == LABELS_MAGIC


def test_idx_rejects_bad_bytes() -> None:
    good = encode_idx(np.zeros((3, 4), np.uint8))
    with pytest.raises(DataError, match="truncated"):
        parse_idx(good[:-1], "x.idx")
    with pytest.raises(DataError, match="longer"):
        parse_idx(good + b"\0", "x.idx")
    with pytest.raises(DataError, match="not an IDX"):
        parse_idx(b"\x01" + good[1:], "x.idx")
    with pytest.raises(DataError, match="header"):
        parse_idx(good[:6], "x.idx")
    with pytest.raises(DataError, match="type code"):
        parse_idx(bytes([0, 0, 0x42, 1, 0, 0, 0, 0]), "x.idx")
    with pytest.raises(DataError, match="expected 2051"):
        parse_idx(good, "x.idx", expected_magic=IMAGES_MAGIC)


def test_truncated_files_name_the_file(tmp_path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    data = encode_idx(noise)
    raw = tmp_path / "short-idx3-ubyte"
    raw.write_bytes(data[:100])
    with pytest.raises(DataError, match="short-idx3-ubyte"):
        read_idx(raw)
    gz = tmp_path / "short.gz"
    compressed = gzip.compress(data)
    assert len(compressed) > 1000
    gz.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(DataError, match=r"short\.gz"):
        read_idx(gz)
    with pytest.raises(DataError, match="missing"):
        read_idx(tmp_path / "missing")


@pytest.mark.parametrize("gz", [True, False])
def test_fake_mnist_round_trip(tmp_path, gz) -> None:
    arrays = _fake_mnist(tmp_path / "mnist", gz=gz)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        # the folder itself and its parent both work
        for root in (tmp_path / "mnist", tmp_path):
            images, labels = load_mnist(root, split)
            np.testing.assert_array_equal(images, arrays[prefix][0])
            np.testing.assert_array_equal(labels, arrays[prefix][1])
            assert labels.dtype == np.int64


def test_mnist_errors(tmp_path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no MNIST files"):
        load_mnist(tmp_path)
    _fake_mnist(tmp_path)
    with pytest.raises(UsageError, match="unknown MNIST split 'validation'; valid: train, test$"):
        load_mnist(tmp_path, "validation")
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        load_mnist(tmp_path, "test")
    # count mismatch between images and labels
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(7, np.uint8))
    with pytest.raises(DataError, match="labels"):
        load_mnist(tmp_path, "train")
    # wrong image shape
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((7, 20, 20), np.uint8))
    with pytest.raises(DataError, match="28, 28"):
        load_mnist(tmp_path, "train")
    # labels out of range
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((7, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.full(7, 10, np.uint8))
    with pytest.raises(DataError, match="outside"):
        load_mnist(tmp_path, "train")


def test_real_mnist(mnist_dir) -> None:
    train_x, train_y = load_mnist(mnist_dir, "train")
    test_x, test_y = load_mnist(mnist_dir, "test")
    assert train_x.shape == (60_000, 28, 28) and test_x.shape == (10_000, 28, 28)
    assert train_x.dtype == np.uint8 and len(train_y) == 60_000 and len(test_y) == 10_000
    assert set(np.unique(train_y)) == set(range(10)) == set(np.unique(test_y))
    assert train_x.max() == 255 and train_x.min() == 0
