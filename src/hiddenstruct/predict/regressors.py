"""Regressors of structural performance prediction: min-max scaling + a scikit-learn model.

The scaler lives inside a :class:`~sklearn.pipeline.Pipeline`, so it is fit on training
data only — in a held-out split and in every cross-validation fold (no leakage).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

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


def check_regressors(names: list[str] | tuple[str, ...]) -> list[str]:
    """Validate regressor names; an unknown one raises :class:`UsageError` listing the valid ones."""
    unknown = [name for name in names if name not in REGRESSORS]
    if unknown or not names:
        raise UsageError(
            f"unknown regressor(s) {', '.join(unknown) or '(none given)'}; valid: {', '.join(REGRESSORS)}"
        )
    return list(names)


def make_regressor(name: str, seed: int) -> Pipeline:
    """``Pipeline([("scale", MinMaxScaler()), ("model", REGRESSORS[name](seed))])``."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler

    check_regressors([name])
    return Pipeline([("scale", MinMaxScaler()), ("model", REGRESSORS[name](seed))])
