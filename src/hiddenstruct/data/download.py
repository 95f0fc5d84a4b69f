"""Optional download of MNIST and CIFAR-10 for machines with internet (never used by tests).

Files land where the loaders look: ``DIR/mnist/*.gz`` and ``DIR/cifar10/cifar-10-batches-py``.
Each file is fetched to a temporary name, its MD5 checked, then renamed, so an interrupted or
offline run leaves nothing half-written. ``base_url`` replaces the server (a mirror, or a
``file://`` folder holding the same file names).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hiddenstruct.errors import DataError, lookup


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: its name on the server, its MD5 and whether it is a tar archive to unpack."""

    name: str
    md5: str
    archive: bool = False


@dataclass(frozen=True)
class Source:
    """Where a dataset comes from and which subfolder of the data directory it goes to."""

    base_url: str
    subfolder: str
    files: tuple[RemoteFile, ...]


SOURCES: dict[str, Source] = {
    "mnist": Source(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "mnist",
        (
            RemoteFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            RemoteFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
            RemoteFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
            RemoteFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
        ),
    ),
    "cifar10": Source(
        "https://www.cs.toronto.edu/~kriz/",
        "cifar10",
        (RemoteFile("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", archive=True),),
    ),
}


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, target: Path, md5: str | None, timeout: float) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, 1 << 20)
        if md5 is not None and _md5(tmp) != md5:
            raise DataError(
                f"{url}: checksum mismatch (expected MD5 {md5}); try again or another --mirror"
            )
        os.replace(tmp, target)
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or err
        raise DataError(
            f"cannot download {url}: {reason}. Without internet, copy the files into {target.parent} by hand"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)


def _safe_extract(archive: Path, folder: Path) -> None:
    root = folder.resolve()
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                dest = (folder / member.name).resolve()
                if not dest.is_relative_to(root) or member.issym() or member.islnk():
                    raise DataError(f"{archive}: refusing unsafe archive member {member.name!r}")
            safe = [m for m in members if m.isfile() or m.isdir()]
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(folder, members=safe, **extra)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DataError(f"cannot unpack {archive}: {err}") from None


def download(
    dataset: str,
    data_dir: str | Path,
    *,
    base_url: str | None = None,
    verify: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``dataset`` into ``data_dir/<subfolder>`` (skipping verified files); returns that folder."""
    source = lookup(SOURCES, dataset, "dataset")
    folder = Path(data_dir).expanduser() / source.subfolder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"cannot create {folder}: {err.strerror or err}") from None
    base = base_url or source.base_url
    if not base.endswith("/"):
        base += "/"
    for remote in source.files:
        target = folder / remote.name
        expected = remote.md5 if verify else None
        if not (target.exists() and (expected is None or _md5(target) == expected)):
            _fetch(base + remote.name, target, expected, timeout)
        if remote.archive:
            _safe_extract(target, folder)
    return folder
