"""Finding dataset files under a ``--data-dir`` that may be the folder itself or a parent."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hiddenstruct.errors import DataError


def require_dir(data_dir: str | Path | None, dataset: str) -> Path:
    """``data_dir`` as a Path; DataError when it is missing or not a folder."""
    if data_dir is None:
        raise DataError(f"{dataset} needs a data directory (pass --data-dir DIR)")
    path = Path(data_dir).expanduser()
    if not path.exists():
        raise DataError(f"data directory {path} does not exist (check --data-dir)")
    if not path.is_dir():
        raise DataError(f"data directory {path} is not a folder (check --data-dir)")
    return path


def find_folder(root: Path, subfolders: Sequence[str], marker_names: Sequence[str]) -> Path | None:
    """The first of ``root/<sub>`` (in order) holding any of ``marker_names``; None otherwise."""
    for sub in subfolders:
        folder = root / sub if sub else root
        if folder.is_dir() and any((folder / name).exists() for name in marker_names):
            return folder
    return None


def find_file(folder: Path, candidates: Sequence[str]) -> Path | None:
    """The first existing ``folder/<name>`` among ``candidates``; None otherwise."""
    for name in candidates:
        path = folder / name
        if path.is_file():
            return path
    return None
