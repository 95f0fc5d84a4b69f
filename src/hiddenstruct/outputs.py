"""Atomic output writes: text, bytes, CSV, JSON and anything a writer callback produces.

Every file is written to a temporary sibling and renamed over the target, so a reader sees the
old file or the whole new one, never half of it. The final file's mode follows the umask like a
plain ``open()`` would (``mkstemp`` alone leaves 0600), so tables and figures are as readable as
the user expects.

Example::

    >>> write_csv("out/table.csv", [{"method": "obd", "accuracy": 0.93}])
    >>> with atomic_path("out/figure.png") as tmp:
    ...     fig.savefig(tmp, format="png")
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hiddenstruct.errors import HiddenstructError

__all__ = [
    "atomic_path",
    "csv_text",
    "file_mode",
    "write_bytes",
    "write_csv",
    "write_json",
    "write_text",
    "write_with",
]


def _current_umask() -> int:
    """The process umask, read without changing it where /proc allows (else set and restore)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0o666 minus the umask."""
    return 0o666 & ~_current_umask()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
    except OSError as err:
        raise HiddenstructError(
            f"cannot write {path}: {err.strerror or err} (choose a writable location)"
        ) from None
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise HiddenstructError(
            f"cannot write {path}: {err.strerror or err} (choose a writable location)"
        ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_with(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Atomically create ``path`` by calling ``write(temporary_path)``; returns ``path``."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Atomically write ``data`` to ``path``."""
    return write_with(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Atomically write ``text`` to ``path``."""
    return write_bytes(path, text.encode(encoding))


def csv_text(rows: Sequence[Mapping[str, Any]], fields: Sequence[str] | None = None) -> str:
    """CSV with a header; columns are ``fields`` or every key of every row, in first-seen order."""
    columns = (
        list(fields) if fields is not None else list(dict.fromkeys(k for r in rows for k in r))
    )
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(
    path: str | Path, rows: Sequence[Mapping[str, Any]], fields: Sequence[str] | None = None
) -> Path:
    """Atomically write ``rows`` as CSV (header rule of :func:`csv_text`)."""
    return write_text(path, csv_text(rows, fields))


def write_json(path: str | Path, value: Any, indent: int | None = 2) -> Path:
    """Atomically write ``value`` as JSON (non-JSON values through ``str``)."""
    return write_text(path, json.dumps(value, indent=indent, default=str) + "\n")
