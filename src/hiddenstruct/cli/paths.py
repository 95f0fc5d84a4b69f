"""Output paths checked before any work starts, as argparse types.

The checks themselves live in :mod:`hiddenstruct.outputs` (one writability probe for the CLI
and the experiments' preflight); they are re-exported here for the commands.
"""

from __future__ import annotations

from pathlib import Path

from hiddenstruct.cli.parser import value_error
from hiddenstruct.errors import UsageError
from hiddenstruct.outputs import check_output_file, check_output_folder

__all__ = ["check_output_file", "check_output_folder", "output_folder"]


def output_folder(text: str | Path) -> Path:
    """argparse type: :func:`check_output_folder` (a usage error names the option)."""
    try:
        return check_output_folder(text)
    except UsageError as err:
        raise value_error(str(text), str(err)) from None
