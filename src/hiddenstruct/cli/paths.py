"""Output paths checked before any work starts: a clear usage error instead of a traceback
after an hour of training.

:func:`check_output_folder` / :func:`check_output_file` make sure the folder can be created
and written (creating nothing that they do not remove again) and that a file's suffix is one
the command can write; they raise :class:`~hiddenstruct.errors.UsageError` (exit 2).
:func:`output_folder` is the same check as an argparse ``type=``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hiddenstruct.errors import UsageError


def _probe_folder(folder: Path, target: Path) -> None:
    """Raise UsageError unless ``folder`` exists or can be created, and is writable."""
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
        for path in created:  # leave the file system as it was; the command creates it later
            try:
                path.rmdir()
            except OSError:
                break


def check_output_folder(path: str | Path) -> Path:
    """``path`` is (or can be made) a writable folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(
            f"cannot write into {path}: it is an existing file; choose a folder "
            "(it is created if missing)"
        )
    _probe_folder(path, path)
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
    _probe_folder(path.parent if str(path.parent) else Path("."), path)
    return path


def output_folder(text: str | Path) -> Path:
    """argparse type: :func:`check_output_folder` (a usage error names the option)."""
    try:
        return check_output_folder(text)
    except UsageError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
