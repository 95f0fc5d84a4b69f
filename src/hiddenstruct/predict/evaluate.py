"""R² and MAE of the regressors (held-out split and k-fold CV) and feature importances, per group.

Undefined scores are NaN with the reason in ``notes`` (R² on a constant target is
undefined — scikit-learn's ``r2_score`` would report 1.0 or 0.0). CV std is the sample std
(ddof 1) over the folds whose score is defined.

Example::

    scores = evaluate_regressors(df, target="test_acc", group_by="mode", test_size=0.3, cv=10)
    # columns: R2_COLUMNS
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.model_selection import KFold, train_test_split

from hiddenstruct import stats
from hiddenstruct.errors import UsageError
from hiddenstruct.predict.dataset import groups, prepare_table
from hiddenstruct.predict.regressors import (
    REGRESSORS,
    check_regressors,
    fitted_importances,
    make_regressor,
)

R2_COLUMNS = (
    "group",
    "regressor",
    "split_r2",
    "cv_r2_mean",
    "cv_r2_std",
    "split_mae",
    "cv_mae_mean",
    "cv_mae_std",
    "n_train",
    "n_test",
    "notes",
)
IMPORTANCE_COLUMNS = ("group", "regressor", "method", "feature", "importance")


@dataclass(frozen=True)
class PredictionConfig:
    """Settings of a prediction run (all seeded)."""

    target: str = "test_acc"
    features: tuple[str, ...] | None = (
        None  # None: every graph-property column (paper Table 1) present
    )
    group_by: str | None = None
    regressors: tuple[str, ...] = tuple(REGRESSORS)
    test_size: float = 0.1  # fraction of rows held out for split_r2
    seed: int = 7
    cv: int = 10  # folds of the shuffled k-fold CV (0 disables it)
    permutation: bool = False  # also permutation importances on the held-out split


def check_sizes(group: str, rows: int, config: PredictionConfig) -> None:
    """UsageError unless ``rows`` suffice for the held-out split and the CV of ``config``."""
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
        check_sizes(name, len(part), config)
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


#: fewest rows an R² is computed on (a held-out split or one CV fold); fewer give NaN with
#: the reason. Our choice: R²'s denominator is the spread of the scored targets, and with n
#: normal targets its sampling error is about sqrt(2 / (n - 1)) of itself — 141 % at n = 2,
#: 71 % at n = 5 — so below 5 rows an R² says more about which rows were drawn than about
#: the model (measured: R² -93 on 2 rows).
MIN_SCORED_ROWS = 5


def too_few_rows(n: int) -> str:
    """The reason an R² on ``n`` rows is not computed."""
    return (
        f"only {n} rows scored (< {MIN_SCORED_ROWS}: R² on so few rows is mostly noise; more "
        "rows, a larger --test-size or fewer --cv folds)"
    )


def _scores(model, X: np.ndarray, y: np.ndarray) -> tuple[stats.Value, stats.Value]:
    predicted = model.predict(X)
    r2 = stats.r2(y, predicted)  # a constant target is named as such, whatever the size
    if r2.defined and len(y) < MIN_SCORED_ROWS:
        r2 = stats.undefined(too_few_rows(len(y)))
    return r2, stats.mae(y, predicted)


def _cross_validate(regressor: str, X, y, config: PredictionConfig):
    """Per-fold (R², MAE) of a shuffled k-fold CV, a fresh model per fold."""
    folds = KFold(n_splits=config.cv, shuffle=True, random_state=config.seed)
    out = []
    for train, test in folds.split(X):
        model = make_regressor(regressor, config.seed).fit(X[train], y[train])
        out.append(_scores(model, X[test], y[test]))
    return out


def score_regressor(
    regressor: str, X: np.ndarray, y: np.ndarray, config: PredictionConfig
) -> dict[str, object]:
    """One R2_COLUMNS row (without group): held-out split and CV R² / MAE, with notes."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=config.test_size, random_state=config.seed
    )
    model = make_regressor(regressor, config.seed).fit(X_train, y_train)
    split_r2, split_mae = _scores(model, X_test, y_test)
    reasons = [f"split R²: {split_r2.reason}" if split_r2.reason else None]
    row: dict[str, object] = {"regressor": regressor, "split_r2": split_r2.value}
    cv_r2 = cv_mae = stats.Summary(float("nan"), float("nan"), 0, "CV off")
    if config.cv:
        folds = _cross_validate(regressor, X, y, config)
        cv_r2, r2_reasons = stats.summarize_scores([r for r, _ in folds])
        cv_mae, _ = stats.summarize_scores([m for _, m in folds])
        undefined = sum(1 for r, _ in folds if not r.defined)
        if undefined:
            reasons.append(f"CV R²: {undefined} of {len(folds)} folds {', '.join(r2_reasons)}")
        if cv_r2.reason:
            reasons.append(f"CV R²: {cv_r2.reason}")
    else:
        reasons.append("CV off (--cv 0)")
    row.update(cv_r2_mean=cv_r2.mean, cv_r2_std=cv_r2.std, split_mae=split_mae.value)
    row.update(cv_mae_mean=cv_mae.mean, cv_mae_std=cv_mae.std)
    row.update(n_train=len(y_train), n_test=len(y_test), notes=stats.notes(*reasons))
    return row


def evaluate_regressors(
    df: pd.DataFrame, config: PredictionConfig | None = None, **overrides: object
) -> pd.DataFrame:
    """R² and MAE per group and regressor: one held-out split, CV mean and std (R2_COLUMNS).

    Settings come from ``config`` and/or keywords of :class:`PredictionConfig`, e.g.
    ``evaluate_regressors(df, target="test_acc", group_by="mode")``.
    """
    config = resolve_config(config, **overrides)
    df, columns = _prepare(df, config)
    rows = []
    for name, part in groups(df, config.group_by):
        X = part[columns].to_numpy(dtype=np.float64)
        y = part[config.target].to_numpy(dtype=np.float64)
        for regressor in check_regressors(config.regressors):
            rows.append({"group": name, **score_regressor(regressor, X, y, config)})
    return pd.DataFrame(rows, columns=list(R2_COLUMNS))


def feature_importances(
    df: pd.DataFrame, config: PredictionConfig | None = None, **overrides: object
) -> pd.DataFrame:
    """Importances of the models fit on the training split, long format (IMPORTANCE_COLUMNS).

    ``impurity`` (RandomForest / AdaBoost) or ``coefficient`` (BayesianRidge: |coef| on the
    min-max scaled features), see :func:`~hiddenstruct.predict.regressors.fitted_importances`;
    ``permutation`` (with ``config.permutation``): mean R² drop on the held-out split when a
    feature is shuffled (10 repeats, seeded), for every regressor.
    """
    config = resolve_config(config, **overrides)
    df, columns = _prepare(df, config)
    rows = []
    for name, part in groups(df, config.group_by):
        _, _, (X_train, X_test, y_train, y_test) = _split(part, columns, config)
        for regressor in check_regressors(config.regressors):
            model = make_regressor(regressor, config.seed).fit(X_train, y_train)
            found = fitted_importances(model)
            if found is not None:
                method, values = found
                rows += [
                    (name, regressor, method, feature, float(value))
                    for feature, value in zip(columns, values, strict=True)
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
