"""Download helper, exercised offline through file:// URLs (tests never touch the network)."""

from __future__ import annotations

import hashlib
import importlib
import io
import pickle
import tarfile

import numpy as np
import pytest

from hiddenstruct.data.cifar10 import load_cifar10
from hiddenstruct.data.idx import write_idx
from hiddenstruct.data.mnist import load_mnist
from hiddenstruct.errors import DataError, UsageError

# the module (``hiddenstruct.data.download`` the attribute is its function)
dl = importlib.import_module("hiddenstruct.data.download")


def _mirror_mnist(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 12), ("t10k", 4)):
        write_idx(
            folder / f"{prefix}-images-idx3-ubyte.gz",
            rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        )
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, dtype=np.uint8))
    return folder.as_uri()


def test_mnist_download_from_file_mirror(tmp_path) -> None:
    url = _mirror_mnist(tmp_path / "mirror")
    folder = dl.download("mnist", tmp_path / "data", base_url=url, verify=False)
    assert folder == tmp_path / "data" / "mnist"
    images, labels = load_mnist(tmp_path / "data", "train")
    assert images.shape == (12, 28, 28) and len(labels) == 12
    assert not [p for p in folder.iterdir() if p.name.endswith(".part")]


def test_checksum_mismatch_leaves_no_file(tmp_path) -> None:
    url = _mirror_mnist(tmp_path / "mirror")
    with pytest.raises(DataError, match="checksum"):
        dl.download("mnist", tmp_path / "data", base_url=url, verify=True)
    assert list((tmp_path / "data" / "mnist").iterdir()) == []


def test_unreachable_source_fails_cleanly(tmp_path) -> None:
    with pytest.raises(DataError, match="cannot download"):
        dl.download("mnist", tmp_path / "data", base_url=(tmp_path / "empty").as_uri())
    assert list((tmp_path / "data" / "mnist").iterdir()) == []
    with pytest.raises(UsageError, match="mnist"):
        dl.download("imagenet", tmp_path)


def _cifar_archive(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


def test_cifar_download_and_extract(tmp_path, monkeypatch) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    batch = {b"data": np.zeros((10, 3072), np.uint8), b"labels": list(range(10))}
    members = {
        f"cifar-10-batches-py/data_batch_{i}": pickle.dumps(batch, protocol=2) for i in range(1, 6)
    }
    archive = mirror / "cifar-10-python.tar.gz"
    _cifar_archive(archive, members)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    source = dl.Source(
        mirror.as_uri(), "cifar10", (dl.RemoteFile(archive.name, md5, archive=True),)
    )
    monkeypatch.setitem(dl.SOURCES, "cifar10", source)
    dl.download("cifar10", tmp_path / "data")
    images, labels = load_cifar10(tmp_path / "data", "train", val_fraction=0.0)
    assert images.shape == (50, 3, 32, 32) and len(labels) == 50


def test_unsafe_archive_is_refused(tmp_path, monkeypatch) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _cifar_archive(mirror / "evil.tar.gz", {"../outside.txt": b"x"})
    source = dl.Source(
        mirror.as_uri(), "cifar10", (dl.RemoteFile("evil.tar.gz", "", archive=True),)
    )
    monkeypatch.setitem(dl.SOURCES, "cifar10", source)
    with pytest.raises(DataError, match="unsafe"):
        dl.download("cifar10", tmp_path / "data", verify=False)
    assert not (tmp_path / "data" / "outside.txt").exists()
