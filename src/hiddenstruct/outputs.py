"""Atomic output writes: text, bytes, CSV, JSON and anything a writer callback produces.

Every file is written to a temporary sibling and renamed over the target, so a reader sees the
old file or the whole new one, never half of it. The final file's mode follows the umask like a
plain ``open()`` would (``mkstemp`` alone leaves 0600), so tables and figures are as readable as
the user expects.

Before any long work starts, :func:`check_output_folder` / :func:`check_output_file` prove that
a destination can be written (a temporary probe file, removed again) and raise
:class:`~hiddenstruct.errors.UsageError` (exit 2) naming the path and how to fix it. They are
the one writability check: the CLI's argparse types and the experiments' preflight both use them.

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

from hiddenstruct.errors import HiddenstructError, UsageError

__all__ = [
    "atomic_path",
    "check_output_file",
    "check_output_folder",
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


def write_torch(path: str | Path, payload: Any) -> Path:
    """``torch.save(payload)`` atomically (tensors, state dicts: load with ``weights_only=True``)."""
    import torch  # torch only for the writers that need it: the CLI starts without it

    return write_with(path, lambda tmp: torch.save(payload, tmp))


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


def _probe_folder(folder: Path, target: Path, create: bool) -> None:
    """Raise UsageError unless ``folder`` exists or can be created, and is writable.

    Folders the probe had to create are removed again unless ``create``."""
    created: list[Path] = []
    missing = folder
    while not missing.exists() and missing != missing.parent:
        created.append(missing)
        missing = missing.parent
    if missing.exists() and not missing.is_dir():
        raise UsageError(f"cannot write {target}: {missing} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".hiddenstruct-write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UsageError(
            f"cannot write {target}: folder {folder} is not writable "
            f"({err.strerror or err}); choose another location"
        ) from None
    finally:
        if not create:
            for path in created:  # leave the file system as it was
                try:
                    path.rmdir()
                except OSError:
                    break


def refuse_dangling_link(path: str | Path, what: str = "write") -> None:
    """A symbolic link whose target does not exist is refused (writing through it would create
    a file wherever it points); UsageError naming the link and its target."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise UsageError(
            f"cannot {what} {path}: it is a symbolic link to {os.readlink(path)}, which does "
            "not exist; give the real path or remove the link"
        )


def check_output_folder(path: str | Path, create: bool = False) -> Path:
    """``path`` is (or can be made) a writable folder; ``create`` keeps it created."""
    path = Path(path)
    refuse_dangling_link(path, "write into")
    if path.exists() and not path.is_dir():
        raise UsageError(
            f"cannot write into {path}: it is an existing file; choose a folder "
            "(it is created if missing)"
        )
    _probe_folder(path, path, create)
    return path


def check_output_file(path: str | Path, suffixes: Sequence[str] | None = None) -> Path:
    """``path`` can be written as a file (with one of ``suffixes``, when given)."""
    path = Path(path)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise UsageError(
            f"cannot write {path}: unsupported file type {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(suffixes)}"
        )
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a folder; give a file name")
    refuse_dangling_link(path)
    _probe_folder(path.parent if str(path.parent) else Path("."), path, create=False)
    return path
