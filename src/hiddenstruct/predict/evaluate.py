"""R² of the regressors (held-out split and k-fold CV) and feature importances, per group.

Example::

    scores = evaluate_regressors(df, "test_acc", group_by="mode", test_size=0.1, seed=7, cv=10)
    # columns: group, regressor, split_r2, cv_r2_mean, cv_r2_std
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, cross_val_score, train_test_split

from hiddenstruct.errors import UsageError
from hiddenstruct.predict.dataset import groups, prepare_table
from hiddenstruct.predict.regressors import REGRESSORS, check_regressors, make_regressor

R2_COLUMNS = ("group", "regressor", "split_r2", "cv_r2_mean", "cv_r2_std")
IMPORTANCE_COLUMNS = ("group", "regressor", "method", "feature", "importance")


@dataclass(frozen=True)
class PredictionConfig:
    """Settings of a prediction run (all seeded)."""

    target: str = "test_acc"
    features: tuple[str, ...] | None = None  # None: every DESIGN §6 property column present
    group_by: str | None = None
    regressors: tuple[str, ...] = tuple(REGRESSORS)
    test_size: float = 0.1  # fraction of rows held out for split_r2
    seed: int = 7
    cv: int = 10  # folds of the shuffled k-fold CV (0 disables it)
    permutation: bool = False  # also permutation importances on the held-out split


def _check_sizes(group: str, rows: int, config: PredictionConfig) -> None:
    if not 0.0 < config.test_size < 1.0:
        raise UsageError(f"test size must be in (0, 1), got {config.test_size}")
    if config.cv == 1 or config.cv < 0:
        raise UsageError(f"--cv must be 0 (off) or at least 2 folds, got {config.cv}")
    test_rows = math.ceil(config.test_size * rows)
    if test_rows < 2 or rows - test_rows < 2:
        raise UsageError(
            f"group {group!r} has {rows} rows: a test size of {config.test_size} leaves {test_rows} test and "
            f"{rows - test_rows} training rows, need at least 2 of each (more rows or another --test-size)"
        )
    if config.cv and rows < 2 * config.cv:
        raise UsageError(
            f"group {group!r} has {rows} rows, too few for {config.cv}-fold CV (need at least {2 * config.cv}); "
            "lower --cv or add rows"
        )


def _prepare(df: pd.DataFrame, config: PredictionConfig) -> tuple[pd.DataFrame, list[str]]:
    table, columns = prepare_table(df, config.target, config.features, config.group_by)
    check_regressors(config.regressors)
    for name, part in groups(table, config.group_by):
        _check_sizes(name, len(part), config)
    return table, columns


def _split(part: pd.DataFrame, columns: list[str], config: PredictionConfig):
    X = part[columns].to_numpy(dtype=np.float64)
    y = part[config.target].to_numpy(dtype=np.float64)
    return X, y, train_test_split(X, y, test_size=config.test_size, random_state=config.seed)


def resolve_config(config: PredictionConfig | None = None, **overrides: object) -> PredictionConfig:
    """``config`` (default :class:`PredictionConfig`) with keyword overrides; lists become tuples."""
    for key in ("features", "regressors"):
        value = overrides.get(key)
        if value is not None and not isinstance(value, str):
            overrides[key] = tuple(value)  # type: ignore[arg-type]
    return replace(config or PredictionConfig(), **overrides)  # type: ignore[arg-type]


def evaluate_regressors(
    df: pd.DataFrame, config: PredictionConfig | None = None, **overrides: object
) -> pd.DataFrame:
    """R² per group and regressor: ``split_r2`` on one held-out split, CV mean and std (ddof 0).

    Settings come from ``config`` and/or keywords of :class:`PredictionConfig`, e.g.
    ``evaluate_regressors(df, target="test_acc", group_by="mode")``.
    """
    config = resolve_config(config, **overrides)
    df, columns = _prepare(df, config)
    rows = []
    for name, part in groups(df, config.group_by):
        X, y, (X_train, X_test, y_train, y_test) = _split(part, columns, config)
        for regressor in config.regressors:
            model = make_regressor(regressor, config.seed).fit(X_train, y_train)
            split_r2 = float(r2_score(y_test, model.predict(X_test)))
            cv_mean = cv_std = float("nan")
            if config.cv:
                folds = KFold(n_splits=config.cv, shuffle=True, random_state=config.seed)
                scores = cross_val_score(
                    make_regressor(regressor, config.seed), X, y, cv=folds, scoring="r2"
                )
                cv_mean, cv_std = float(scores.mean()), float(scores.std())
            rows.append((name, regressor, split_r2, cv_mean, cv_std))
    return pd.DataFrame(rows, columns=list(R2_COLUMNS))


def feature_importances(
    df: pd.DataFrame, config: PredictionConfig | None = None, **overrides: object
) -> pd.DataFrame:
    """Importances of the models fit on the training split, long format (IMPORTANCE_COLUMNS).

    ``impurity``: RandomForest / AdaBoost ``feature_importances_`` (BayesianRidge has none);
    ``permutation`` (with ``config.permutation``): mean R² drop on the held-out split when a
    feature is shuffled (10 repeats, seeded), for every regressor.
    """
    config = resolve_config(config, **overrides)
    df, columns = _prepare(df, config)
    rows = []
    for name, part in groups(df, config.group_by):
        _, _, (X_train, X_test, y_train, y_test) = _split(part, columns, config)
        for regressor in config.regressors:
            model = make_regressor(regressor, config.seed).fit(X_train, y_train)
            estimator = model.named_steps["model"]
            if hasattr(estimator, "feature_importances_"):
                rows += [
                    (name, regressor, "impurity", feature, float(value))
                    for feature, value in zip(columns, estimator.feature_importances_, strict=True)
                ]
            if config.permutation:
                result = permutation_importance(
                    model, X_test, y_test, scoring="r2", n_repeats=10, random_state=config.seed
                )
                rows += [
                    (name, regressor, "permutation", feature, float(value))
                    for feature, value in zip(columns, result.importances_mean, strict=True)
                ]
    return pd.DataFrame(rows, columns=list(IMPORTANCE_COLUMNS))


def predict_structure(
    df: pd.DataFrame, config: PredictionConfig | None = None, **overrides: object
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables at once: ``(r2 scores, feature importances)``."""
    config = resolve_config(config, **overrides)
    return evaluate_regressors(df, config), feature_importances(df, config)
