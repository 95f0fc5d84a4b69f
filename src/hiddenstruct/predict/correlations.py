"""Pearson correlation of structural features with a metric, per group (paper Table 1)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hiddenstruct.predict.dataset import groups, prepare_table


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r; NaN when either side is constant (the correlation is undefined)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    dx, dy = x - x.mean(), y - y.mean()
    denominator = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    return float((dx * dy).sum() / denominator) if denominator > 0 else float("nan")


def correlations(
    df: pd.DataFrame,
    target: str,
    features: Sequence[str] | None = None,
    group_by: str | None = None,
) -> pd.DataFrame:
    """Pearson r of each feature with ``target``: one row per feature, one column per group.

    Without ``group_by`` the single column is named ``"all"``. Column names may carry the
    store export's ``config.`` / ``result.`` prefixes (see :func:`resolve_column`). Features that are constant
    within a group get NaN there (undefined, not zero). The index is named ``property``.
    """
    df, columns = prepare_table(df, target, features, group_by)
    table = {
        name: [pearson(part[feature].to_numpy(), part[target].to_numpy()) for feature in columns]
        for name, part in groups(df, group_by)
    }
    return pd.DataFrame(table, index=pd.Index(columns, name="property"))
