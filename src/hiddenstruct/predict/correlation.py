"""Pearson correlation of structural features with a metric, per group (paper Table 1)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hiddenstruct import stats
from hiddenstruct.predict.dataset import groups, prepare_table


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r; NaN when either side is constant (the reason: :func:`hiddenstruct.stats.pearson`)."""
    return stats.pearson(x, y).value


def correlations(
    df: pd.DataFrame,
    target: str,
    features: Sequence[str] | None = None,
    group_by: str | None = None,
    notes: bool = False,
) -> pd.DataFrame:
    """Pearson r of each feature with ``target``: one row per feature, one column per group.

    Without ``group_by`` the single column is named ``"all"``. Column names may carry the
    store export's ``config.`` / ``result.`` prefixes (see :func:`resolve_column`). Features that are constant
    within a group get NaN there (undefined, not zero); with ``notes=True`` a ``notes``
    column says why, per group (e.g. ``"GRU: constant feature"``). The index is named ``property``.
    """
    df, columns = prepare_table(df, target, features, group_by)
    values: dict[str, list[stats.Value]] = {
        name: [
            stats.pearson(part[feature].to_numpy(), part[target].to_numpy()) for feature in columns
        ]
        for name, part in groups(df, group_by)
    }
    table: dict[str, list] = {name: [v.value for v in vs] for name, vs in values.items()}
    if notes:
        table["notes"] = [
            stats.notes(*(f"{g}: {vs[i].reason}" for g, vs in values.items() if vs[i].reason))
            for i in range(len(columns))
        ]
    return pd.DataFrame(table, index=pd.Index(columns, name="property"))
