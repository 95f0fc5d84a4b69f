"""predict: undefined scores are NaN with a reason (constant target / feature), MAE, aliases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hiddenstruct.errors import UsageError
from hiddenstruct.predict import (
    R2_COLUMNS,
    canonical_regressor,
    correlations,
    evaluate_regressors,
    feature_importances,
    fitted_importances,
    make_regressor,
)


def _table(rows: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"nodes": rng.uniform(10, 50, rows), "edges": rng.uniform(10, 300, rows)})
    df["acc"] = 0.5 + 0.01 * df["nodes"]
    df["flat"] = 0.75  # a constant target (e.g. every model at 100 %)
    df["mode"] = ["GRU", "LSTM"] * (rows // 2)
    return df


def test_constant_target_gives_nan_r2_with_reason_not_one():
    scores = evaluate_regressors(_table(), target="flat", cv=3, seed=1)
    assert list(scores.columns) == list(R2_COLUMNS)
    assert scores.split_r2.isna().all() and scores.cv_r2_mean.isna().all()
    assert all("split R²: constant target" in n for n in scores.notes)
    assert all("3 of 3 folds constant target" in n for n in scores.notes)
    assert (scores.split_mae < 1e-9).all()  # MAE stays defined: the predictions are exact


def test_defined_scores_carry_mae_sizes_and_empty_notes():
    scores = evaluate_regressors(_table(), target="acc", cv=4, seed=1, test_size=0.25)
    assert (scores.notes == "").all()
    assert (scores.n_test == 10).all() and (scores.n_train == 30).all()
    assert (scores.split_mae >= 0).all() and (scores.cv_mae_std >= 0).all()
    bayes = scores[scores.regressor == "bayesian_ridge"].iloc[0]
    assert bayes.split_r2 > 0.99 and bayes.split_mae < 0.01


def test_cv_off_is_stated():
    scores = evaluate_regressors(_table(), target="acc", cv=0, regressors=["bayesian_ridge"])
    assert math.isnan(scores.cv_r2_mean.iloc[0]) and "CV off" in scores.notes.iloc[0]


def test_correlation_notes_name_group_and_reason():
    df = _table()
    df.loc[df["mode"] == "GRU", "edges"] = 7.0  # constant within GRU only
    table = correlations(df, "acc", ["nodes", "edges"], group_by="mode", notes=True)
    assert math.isnan(table.loc["edges", "GRU"]) and not math.isnan(table.loc["edges", "LSTM"])
    assert table.loc["edges", "notes"] == "GRU: constant feature"
    assert table.loc["nodes", "notes"] == ""
    assert "notes" not in correlations(df, "acc", ["nodes"], group_by="mode").columns


def test_aliases_and_one_importance_routine():
    assert canonical_regressor("ada_boost") == "adaboost"
    with pytest.raises(UsageError, match="valid: bayesian_ridge, random_forest, adaboost"):
        canonical_regressor("svr")
    scores = evaluate_regressors(_table(), target="acc", cv=2, regressors=["ada_boost"])
    assert list(scores.regressor) == ["adaboost"]
    X = _table()[["nodes", "edges"]].to_numpy()
    y = _table()["acc"].to_numpy()
    method, values = fitted_importances(make_regressor("bayesian_ridge", 0).fit(X, y))
    assert method == "coefficient" and values[0] > values[1]
    method, values = fitted_importances(make_regressor("random_forest", 0).fit(X, y))
    assert method == "impurity" and values.sum() == pytest.approx(1.0)
    table = feature_importances(_table(), target="acc", features=["nodes", "edges"], cv=2)
    assert set(table[table.regressor == "bayesian_ridge"].method) == {"coefficient"}
