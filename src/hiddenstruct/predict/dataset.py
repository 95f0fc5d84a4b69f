"""Meta-datasets: one row per trained network (graph properties + measured metrics).

Helpers to pick feature columns, validate a table before regression, split it into groups
(e.g. one per recurrent mode), and read/write tables (CSV or Parquet) atomically.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hiddenstruct.errors import DataError, UsageError
from hiddenstruct.graphs.properties import PROPERTY_NAMES
from hiddenstruct.outputs import write_with

ALL_GROUP = "all"


def meta_dataset(rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """A DataFrame from row dicts (e.g. ``{**properties(G), "mode": ..., "test_acc": ...}``)."""
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        raise UsageError("the meta-dataset has no rows")
    return frame


def resolve_column(df: pd.DataFrame, name: str) -> str | None:
    """The column holding ``name``: itself, or the unique ``<prefix>.name`` column (the trial
    store's export prefixes ``config.`` / ``result.``); None when absent."""
    if name in df.columns:
        return name
    matches = [
        column
        for column in df.columns
        if isinstance(column, str) and column.rsplit(".", 1)[-1] == name
    ]
    if len(matches) > 1:
        raise UsageError(
            f"column name {name!r} is ambiguous ({', '.join(matches)}); use the full name"
        )
    return matches[0] if matches else None


def _available(df: pd.DataFrame) -> str:
    return ", ".join(map(str, df.columns))


def feature_columns(df: pd.DataFrame, features: Sequence[str] | None = None) -> list[str]:
    """The given ``features`` (checked to exist) or every graph-property column (paper Table 1) present.

    Names are returned as requested (bare property names by default); see :func:`resolve_column`.
    """
    if features:
        missing = [name for name in features if resolve_column(df, name) is None]
        if missing:
            raise UsageError(
                f"feature column(s) {', '.join(missing)} not in the table; available: {_available(df)}"
            )
        return list(dict.fromkeys(features))
    present = [name for name in PROPERTY_NAMES if resolve_column(df, name) is not None]
    if not present:
        raise UsageError(
            "the table has none of the graph-property columns "
            f"({', '.join(PROPERTY_NAMES)}); name the features explicitly (--features ...)"
        )
    return present


#: our bound on feature and target magnitudes: graph properties and accuracies are far below it,
#: and squares of such values (variances, BayesianRidge) stay finite with room to spare
MAX_ABS_VALUE = 1e15


def prepare_table(
    df: pd.DataFrame,
    target: str,
    features: Sequence[str] | None = None,
    group_by: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Validated ``(table, feature names)``: the table holds only the group, target and feature
    columns, renamed to the requested names. :class:`UsageError` names any unusable column."""
    columns = feature_columns(df, features)
    source = {}
    for role, name in (("target", target), ("group", group_by)):
        if name is None:
            continue
        found = resolve_column(df, name)
        if found is None:
            raise UsageError(
                f"{role} column {name!r} not in the table; available: {_available(df)}"
            )
        source[name] = found
    if target in columns:
        raise UsageError(
            f"the target {target!r} is also listed as a feature; remove it from the features"
        )
    for name in columns:
        source[name] = resolve_column(df, name)
    table = pd.DataFrame(
        {name: df[column].to_numpy() for name, column in source.items()}, index=df.index
    )
    for name in [target, *columns]:
        column = table[name]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            raise UsageError(
                f"column {name!r} is not numeric (dtype {column.dtype}); choose numeric columns"
            )
        values = column.to_numpy(dtype=float)
        bad = int(column.isna().sum()) + int(np.isinf(values).sum())
        if bad:
            raise UsageError(
                f"column {name!r} has {bad} missing or infinite value(s); drop those rows or leave the column out"
            )
        huge = np.abs(values) > MAX_ABS_VALUE
        if huge.any():
            raise UsageError(
                f"column {name!r} has {int(huge.sum())} value(s) beyond ±{MAX_ABS_VALUE:g} (e.g. "
                f"{values[huge][0]:g}); scaling and the regressors' squares would overflow: drop "
                "those rows or rescale the column"
            )
    return table, columns


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

    if path.suffix.lower() == ".parquet":
        return write_with(path, lambda tmp: df.to_parquet(tmp, index=index))
    return write_with(path, lambda tmp: df.to_csv(tmp, index=index))
