"""Architectural performance prediction: regressors over the 56 genotype features.

A :class:`PerformancePredictor` is fitted on the meta-dataset (features of measured
candidates → validation accuracy) and estimates the accuracy of unseen genotypes.

Example::

    p = PerformancePredictor("random_forest", seed=0).fit(genotypes, accuracies)
    p.predict([g])   # array([0.87])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from hiddenstruct.errors import UsageError
from hiddenstruct.nas.features import FEATURE_NAMES, feature_vector
from hiddenstruct.nas.genotype import Genotype


def _random_forest(seed: int):
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1)


def _bayesian_ridge(seed: int):
    from sklearn.linear_model import BayesianRidge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), BayesianRidge())


def _ada_boost(seed: int):
    from sklearn.ensemble import AdaBoostRegressor

    return AdaBoostRegressor(n_estimators=100, random_state=seed)


#: Regressors by name: ``name -> factory(seed)``.
REGRESSORS: dict[str, Callable[[int], object]] = {
    "random_forest": _random_forest,
    "bayesian_ridge": _bayesian_ridge,
    "ada_boost": _ada_boost,
}


def make_regressor(name: str, seed: int = 0):
    """A fresh scikit-learn regressor by name (UsageError listing the valid names otherwise)."""
    try:
        return REGRESSORS[name](seed)
    except KeyError:
        raise UsageError(
            f"unknown predictor {name!r}; choose one of {', '.join(REGRESSORS)}"
        ) from None


class PerformancePredictor:
    """Estimates validation accuracy from a genotype's 56 structural features."""

    def __init__(
        self, regressor: str = "random_forest", seed: int = 0, input_channels: int = 3
    ) -> None:
        self.name = regressor
        self.seed = seed
        self.input_channels = input_channels
        self.model = make_regressor(regressor, seed)
        self.fitted = False

    def features(self, genotypes: Sequence[Genotype]) -> np.ndarray:
        """Feature matrix (n × 56)."""
        return (
            np.stack([feature_vector(g, self.input_channels) for g in genotypes])
            if genotypes
            else np.zeros((0, 56))
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
        """Importance per feature name (tree models; |coefficient| for linear ones)."""
        if not self.fitted:
            raise UsageError("the predictor is not fitted yet: call fit() first")
        model = self.model
        if hasattr(model, "feature_importances_"):
            values = model.feature_importances_
        else:
            values = np.abs(model[-1].coef_)
        return dict(zip(FEATURE_NAMES, (float(v) for v in values), strict=True))


def top_importances(importances: dict[str, float], k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` largest importances, largest first (ties by name)."""
    return sorted(importances.items(), key=lambda item: (-item[1], item[0]))[:k]


def feature_correlations(
    X: np.ndarray, y: Sequence[float], names: Sequence[str] = FEATURE_NAMES
) -> dict[str, float]:
    """Pearson correlation of every feature column with ``y`` (NaN where a column is constant)."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    out = {}
    for j, name in enumerate(names):
        col = X[:, j]
        if len(col) < 2 or np.std(col) == 0 or np.std(y) == 0:
            out[name] = float("nan")
        else:
            out[name] = float(np.corrcoef(col, y)[0, 1])
    return out
