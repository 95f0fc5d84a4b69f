"""Meta-datasets: one row per trained network (graph properties + measured metrics).

Helpers to pick feature columns, validate a table before regression, split it into groups
(e.g. one per recurrent mode), and read/write tables (CSV or Parquet) atomically.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hiddenstruct.errors import DataError, UsageError
from hiddenstruct.graphs.properties import PROPERTY_NAMES

ALL_GROUP = "all"


def meta_dataset(rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """A DataFrame from row dicts (e.g. ``{**properties(G), "mode": ..., "test_acc": ...}``)."""
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        raise UsageError("the meta-dataset has no rows")
    return frame


def feature_columns(df: pd.DataFrame, features: Sequence[str] | None = None) -> list[str]:
    """The given ``features`` (checked to exist) or every DESIGN §6 property column present."""
    if features:
        missing = [name for name in features if name not in df.columns]
        if missing:
            raise UsageError(
                f"feature column(s) {', '.join(missing)} not in the table; available: {', '.join(map(str, df.columns))}"
            )
        return list(dict.fromkeys(features))
    present = [name for name in PROPERTY_NAMES if name in df.columns]
    if not present:
        raise UsageError(
            "the table has none of the graph-property columns "
            f"({', '.join(PROPERTY_NAMES)}); name the features explicitly (--features ...)"
        )
    return present


def check_table(
    df: pd.DataFrame, target: str, features: Sequence[str], group_by: str | None = None
) -> None:
    """Raise :class:`UsageError` when the target, features or group column are unusable."""
    if target not in df.columns:
        raise UsageError(
            f"target column {target!r} not in the table; available: {', '.join(map(str, df.columns))}"
        )
    if target in features:
        raise UsageError(
            f"the target {target!r} is also listed as a feature; remove it from the features"
        )
    if group_by is not None and group_by not in df.columns:
        raise UsageError(
            f"group column {group_by!r} not in the table; available: {', '.join(map(str, df.columns))}"
        )
    for column in [target, *features]:
        if not pd.api.types.is_numeric_dtype(df[column]) or pd.api.types.is_bool_dtype(df[column]):
            raise UsageError(
                f"column {column!r} is not numeric (dtype {df[column].dtype}); choose numeric columns"
            )
        bad = int(df[column].isna().sum()) + int(np.isinf(df[column].to_numpy(dtype=float)).sum())
        if bad:
            raise UsageError(
                f"column {column!r} has {bad} missing or infinite value(s); drop those rows or leave the column out"
            )


def groups(df: pd.DataFrame, group_by: str | None) -> Iterator[tuple[str, pd.DataFrame]]:
    """``(group name, rows)`` per value of ``group_by`` (sorted), or ``("all", df)``."""
    if group_by is None:
        yield ALL_GROUP, df
        return
    for value, part in df.groupby(group_by, sort=True):
        yield str(value), part


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (or ``.parquet``) meta-dataset; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except (ValueError, OSError, ImportError, pd.errors.ParserError) as err:
        raise DataError(f"{path}: cannot read table ({err})") from None
    if frame.empty:
        raise DataError(f"{path}: the table has no rows")
    return frame


def write_table(df: pd.DataFrame, path: str | Path, *, index: bool = False) -> Path:
    """Write CSV (or ``.parquet``) via a temporary sibling file and rename: no partial output."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(f"cannot write {path}: folder {folder} does not exist (create it first)")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        if path.suffix.lower() == ".parquet":
            df.to_parquet(tmp, index=index)
        else:
            df.to_csv(tmp, index=index)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
