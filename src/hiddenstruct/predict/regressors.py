"""Regressors of structural performance prediction: min-max scaling + a scikit-learn model.

The scaler lives inside a :class:`~sklearn.pipeline.Pipeline`, so it is fit on training
data only — in a held-out split and in every cross-validation fold (no leakage).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from hiddenstruct.errors import UsageError

if TYPE_CHECKING:
    from sklearn.base import RegressorMixin
    from sklearn.pipeline import Pipeline


# scikit-learn is imported inside the factories so that listing the names stays cheap.
def _bayesian_ridge(seed: int) -> RegressorMixin:
    from sklearn.linear_model import BayesianRidge

    return BayesianRidge()  # deterministic: no random state


def _random_forest(seed: int) -> RegressorMixin:
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(random_state=seed)


def _adaboost(seed: int) -> RegressorMixin:
    from sklearn.ensemble import AdaBoostRegressor

    return AdaBoostRegressor(random_state=seed)


#: name → factory(seed) of an unfitted model with scikit-learn's default hyper-parameters.
REGRESSORS: Mapping[str, Callable[[int], RegressorMixin]] = {
    "bayesian_ridge": _bayesian_ridge,
    "random_forest": _random_forest,
    "adaboost": _adaboost,
}

#: Older spellings still accepted (0.1.0's NAS predictor called AdaBoost ``ada_boost``).
ALIASES: Mapping[str, str] = {"ada_boost": "adaboost"}


def canonical_regressor(name: str) -> str:
    """The registry name of ``name`` (aliases resolved); UsageError listing the valid ones."""
    name = ALIASES.get(name, name)
    if name not in REGRESSORS:
        raise UsageError(f"unknown regressor {name!r}; valid: {', '.join(REGRESSORS)}")
    return name


def check_regressors(names: list[str] | tuple[str, ...]) -> list[str]:
    """Validate regressor names; an unknown one raises :class:`UsageError` listing the valid ones."""
    unknown = [name for name in names if ALIASES.get(name, name) not in REGRESSORS]
    if unknown or not names:
        raise UsageError(
            f"unknown regressor(s) {', '.join(unknown) or '(none given)'}; valid: {', '.join(REGRESSORS)}"
        )
    return [canonical_regressor(name) for name in names]


def make_regressor(name: str, seed: int) -> Pipeline:
    """``Pipeline([("scale", MinMaxScaler()), ("model", REGRESSORS[name](seed))])``.

    The one scaler policy: min-max scaling fit inside the pipeline (training rows only).
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler

    model = REGRESSORS[canonical_regressor(name)](seed)
    return Pipeline([("scale", MinMaxScaler()), ("model", model)])


def fitted_importances(model: Pipeline) -> tuple[str, np.ndarray] | None:
    """The one importance routine: ``(method, values)`` of a fitted :func:`make_regressor`.

    ``impurity`` for tree ensembles (``feature_importances_``, sums to 1), ``coefficient``
    (|coef| on the min-max scaled features) for linear models; None for anything else.
    """
    estimator = model.named_steps["model"]
    if hasattr(estimator, "feature_importances_"):
        return "impurity", np.asarray(estimator.feature_importances_, dtype=float)
    if hasattr(estimator, "coef_"):
        return "coefficient", np.abs(np.asarray(estimator.coef_, dtype=float)).reshape(-1)
    return None
