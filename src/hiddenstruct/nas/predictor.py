"""Architectural performance prediction: regressors over the 56 genotype features.

Built on :mod:`hiddenstruct.predict`: the same regressor registry and names (``adaboost``;
0.1.0's ``ada_boost`` is an accepted alias), the same scaler policy (min-max scaling inside
the pipeline), the same Pearson (:func:`hiddenstruct.stats.pearson`) and the same
importance routine (:func:`~hiddenstruct.predict.regressors.fitted_importances`).

Example::

    p = PerformancePredictor("random_forest", seed=0).fit(genotypes, accuracies)
    p.predict([g])   # array([0.87])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hiddenstruct import stats
from hiddenstruct.errors import UsageError
from hiddenstruct.nas.features import FEATURE_NAMES, feature_vector
from hiddenstruct.nas.genotype import Genotype
from hiddenstruct.predict.regressors import (
    ALIASES,
    REGRESSORS,
    canonical_regressor,
    fitted_importances,
    make_regressor,
)

__all__ = [
    "ALIASES",
    "REGRESSORS",
    "PerformancePredictor",
    "feature_correlation_values",
    "feature_correlations",
    "holdout_scores",
    "top_importances",
]


class PerformancePredictor:
    """Estimates validation accuracy from a genotype's 56 structural features."""

    def __init__(
        self, regressor: str = "random_forest", seed: int = 0, input_channels: int = 3
    ) -> None:
        self.name = canonical_regressor(regressor)
        self.seed = seed
        self.input_channels = input_channels
        self.model = make_regressor(self.name, seed)
        self.fitted = False

    def features(self, genotypes: Sequence[Genotype]) -> np.ndarray:
        """Feature matrix (n × 56)."""
        return (
            np.stack([feature_vector(g, self.input_channels) for g in genotypes])
            if genotypes
            else np.zeros((0, len(FEATURE_NAMES)))
        )

    def fit_features(self, X: np.ndarray, y: Sequence[float]) -> PerformancePredictor:
        """Fit on a precomputed feature matrix."""
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        if len(X) < 2 or len(X) != len(y):
            raise UsageError(
                f"a predictor needs at least 2 rows with one target each, got {len(X)} rows, {len(y)} targets"
            )
        self.model.fit(X, y)
        self.fitted = True
        return self

    def fit(
        self, genotypes: Sequence[Genotype], accuracies: Sequence[float]
    ) -> PerformancePredictor:
        """Fit on genotypes and their measured accuracies."""
        return self.fit_features(self.features(genotypes), accuracies)

    def predict_features(self, X: np.ndarray) -> np.ndarray:
        """Estimates for a precomputed feature matrix."""
        if not self.fitted:
            raise UsageError("the predictor is not fitted yet: call fit() first")
        return np.asarray(self.model.predict(np.asarray(X, dtype=float)), dtype=float)

    def predict(self, genotypes: Sequence[Genotype]) -> np.ndarray:
        """Estimated accuracy of each genotype."""
        return self.predict_features(self.features(genotypes))

    def feature_importances(self) -> dict[str, float]:
        """Importance per feature name: impurity (trees) or |coefficient| (linear models)."""
        if not self.fitted:
            raise UsageError("the predictor is not fitted yet: call fit() first")
        found = fitted_importances(self.model)
        if found is None:
            raise UsageError(f"regressor {self.name!r} reports no feature importances")
        return dict(zip(FEATURE_NAMES, (float(v) for v in found[1]), strict=True))


def top_importances(importances: dict[str, float], k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` largest importances, largest first (ties by name)."""
    return sorted(importances.items(), key=lambda item: (-item[1], item[0]))[:k]


def feature_correlation_values(
    X: np.ndarray, y: Sequence[float], names: Sequence[str] = FEATURE_NAMES
) -> dict[str, stats.Value]:
    """Pearson r of every feature column with ``y``, NaN with a reason where undefined."""
    X = np.asarray(X, dtype=float).reshape(len(y), len(names))
    return {name: stats.pearson(X[:, j], y) for j, name in enumerate(names)}


def feature_correlations(
    X: np.ndarray, y: Sequence[float], names: Sequence[str] = FEATURE_NAMES
) -> dict[str, float]:
    """Pearson correlation of every feature column with ``y`` (NaN where a column is constant)."""
    return {name: v.value for name, v in feature_correlation_values(X, y, names).items()}


def holdout_scores(
    X: np.ndarray,
    y: Sequence[float],
    regressor: str = "random_forest",
    *,
    test_fraction: float = 0.3,
    cv: int = 5,
    seed: int = 0,
) -> dict[str, object]:
    """The predictor's R² and MAE on a held-out ``test_fraction`` (paper §4.4: 70/30) plus k-fold CV.

    Returns one row (:data:`hiddenstruct.predict.R2_COLUMNS` without ``group``); too few rows
    for the split or the CV give NaN with the reason in ``notes`` rather than an error.
    """
    from hiddenstruct.predict.evaluate import PredictionConfig, check_sizes, score_regressor

    if not 0.0 < test_fraction < 1.0:
        raise UsageError(f"test fraction must lie in (0, 1), got {test_fraction}")
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    name = canonical_regressor(regressor)
    config = PredictionConfig(test_size=test_fraction, cv=cv, seed=seed, regressors=(name,))
    reasons = []
    try:
        check_sizes("meta-dataset", len(y), config)
    except UsageError as err:
        if cv:
            config = PredictionConfig(test_size=test_fraction, cv=0, seed=seed, regressors=(name,))
            reasons.append(f"CV skipped: {err}")
    try:
        check_sizes("meta-dataset", len(y), config)
    except UsageError as err:
        nan = float("nan")
        row = dict.fromkeys(("split_r2", "cv_r2_mean", "cv_r2_std", "split_mae"), nan)
        row.update(cv_mae_mean=nan, cv_mae_std=nan, n_train=0, n_test=0)
        return {"regressor": name, **row, "notes": stats.notes(f"no held-out split: {err}")}
    row = score_regressor(name, X, y, config)
    if reasons:
        notes = [n for n in str(row["notes"]).split("; ") if n and not n.startswith("CV off")]
        row["notes"] = stats.notes(*notes, *reasons)
    return row
