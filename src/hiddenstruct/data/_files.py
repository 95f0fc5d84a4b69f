"""Small file helpers: atomic writes (temporary file in the same folder, then rename)."""

from __future__ import annotations

from pathlib import Path

from hiddenstruct.errors import DataError, HiddenstructError
from hiddenstruct.outputs import write_bytes


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary sibling and ``os.replace``; no partial file."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(f"cannot write {path}: folder {folder} does not exist (create it first)")

    try:
        return write_bytes(path, data)
    except HiddenstructError as err:
        raise DataError(str(err)) from None


def atomic_write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Text version of :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode(encoding))
