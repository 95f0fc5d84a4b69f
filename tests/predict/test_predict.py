"""Structural performance prediction: correlations, regressors, importances, input checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hiddenstruct.errors import UsageError
from hiddenstruct.predict import (
    IMPORTANCE_COLUMNS,
    R2_COLUMNS,
    correlations,
    evaluate_regressors,
    feature_columns,
    feature_importances,
    make_regressor,
    read_table,
    write_table,
)

FAST = {"cv": 3, "regressors": ("bayesian_ridge", "random_forest", "adaboost")}


def synthetic(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """Property-named features; ``linear`` is an exact linear function, ``noise`` independent."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "nodes": rng.integers(10, 51, rows).astype(float),
            "edges": rng.uniform(10, 300, rows),
            "closeness_var": rng.uniform(0, 0.1, rows),
            "diameter": rng.integers(2, 9, rows).astype(float),
            "mode": rng.choice(["GRU", "LSTM"], rows),
        }
    )
    df["linear"] = 0.3 + 0.01 * df["nodes"] - 2.0 * df["closeness_var"] + 0.0005 * df["edges"]
    df["noise"] = rng.normal(size=rows)
    return df


def test_linear_signal_is_predicted_with_r2_near_one():
    scores = evaluate_regressors(synthetic(), target="linear", group_by="mode", seed=7, **FAST)
    assert list(scores.columns) == list(R2_COLUMNS)
    assert set(scores["group"]) == {"GRU", "LSTM"} and len(scores) == 6
    bayes = scores[scores.regressor == "bayesian_ridge"]
    assert (bayes.split_r2 > 0.999).all() and (bayes.cv_r2_mean > 0.999).all()
    assert (scores.split_r2 > 0.7).all() and (scores.cv_r2_mean > 0.7).all()


def test_pure_noise_is_not_predictable():
    scores = evaluate_regressors(synthetic(rows=160), target="noise", seed=7, **FAST)
    assert (scores.group == "all").all()
    assert (scores.cv_r2_mean < 0.05).all()
    assert (scores.split_r2 < 0.2).all()


def test_results_are_seeded():
    df, fast = synthetic(rows=60), {"cv": 2, "regressors": ["random_forest", "adaboost"]}
    first = evaluate_regressors(df, target="linear", seed=3, **fast)
    again = evaluate_regressors(df, target="linear", seed=3, **fast)
    other = evaluate_regressors(df, target="linear", seed=4, **fast)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first.split_r2, other.split_r2)


def test_scaler_is_fit_inside_the_pipeline():
    model = make_regressor("random_forest", seed=0)
    X = np.array([[0.0, 10.0], [1.0, 20.0], [2.0, 40.0], [3.0, 80.0]])
    model.fit(X[:2], np.array([0.0, 1.0]))
    scaler = model.named_steps["scale"]
    np.testing.assert_allclose(scaler.data_max_, [1.0, 20.0])  # training rows only


def test_correlations_match_numpy_per_group():
    df = synthetic()
    table = correlations(df, "linear", ["nodes", "closeness_var"], group_by="mode")
    assert list(table.columns) == ["GRU", "LSTM"] and list(table.index) == [
        "nodes",
        "closeness_var",
    ]
    for mode in ("GRU", "LSTM"):
        part = df[df["mode"] == mode]
        for feature in ("nodes", "closeness_var"):
            expected = np.corrcoef(part[feature], part["linear"])[0, 1]
            assert table.loc[feature, mode] == pytest.approx(expected, abs=1e-12)
    assert table.loc["nodes"].gt(0).all() and table.loc["closeness_var"].lt(0).all()


def test_correlation_of_constant_feature_is_nan():
    df = synthetic().assign(layers=3.0)
    assert np.isnan(correlations(df, "linear", ["layers"]).loc["layers", "all"])


def test_default_features_are_the_property_columns_present():
    df = synthetic()
    assert feature_columns(df) == ["nodes", "edges", "diameter", "closeness_var"]
    with pytest.raises(UsageError, match="none of the graph-property columns"):
        feature_columns(df[["linear", "noise"]])


def test_importances_impurity_and_permutation():
    df = synthetic()
    table = feature_importances(
        df, target="linear", features=["nodes", "diameter"], permutation=True, **FAST
    )
    assert list(table.columns) == list(IMPORTANCE_COLUMNS)
    impurity = table[table.method == "impurity"]
    assert set(impurity.regressor) == {"random_forest", "adaboost"}
    for _, part in impurity.groupby("regressor"):
        assert part.importance.sum() == pytest.approx(1.0)
        top = part.sort_values("importance").iloc[-1]
        assert top.feature == "nodes"  # the only informative feature of the two
    assert set(table[table.method == "permutation"].regressor) == {
        "bayesian_ridge",
        "random_forest",
        "adaboost",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "accuracy"}, "target column 'accuracy'"),
        ({"target": "linear", "features": ["nodes", "depth"]}, "depth"),
        ({"target": "linear", "group_by": "kind"}, "group column 'kind'"),
        ({"target": "linear", "features": ["nodes", "linear"]}, "also listed as a feature"),
        ({"target": "linear", "features": ["mode"]}, "not numeric"),
        ({"target": "linear", "regressors": ["svr"]}, "valid: bayesian_ridge"),
        ({"target": "linear", "cv": 1}, "at least 2 folds"),
        ({"target": "linear", "test_size": 1.5}, "test size"),
    ],
)
def test_bad_settings_raise_usage_error(kwargs, message):
    with pytest.raises(UsageError, match=message):
        evaluate_regressors(synthetic(rows=40), **{"cv": 3, **kwargs})


def test_too_few_rows_and_missing_values():
    with pytest.raises(UsageError, match="too few for 10-fold"):
        evaluate_regressors(synthetic(rows=15), target="linear", cv=10)
    with pytest.raises(UsageError, match="need at least 2"):
        evaluate_regressors(synthetic(rows=8), target="linear", cv=0, test_size=0.1)
    df = synthetic(rows=40)
    df.loc[3, "nodes"] = np.nan
    with pytest.raises(UsageError, match="missing or infinite"):
        evaluate_regressors(df, target="linear", cv=3)


def test_cv_can_be_disabled():
    scores = evaluate_regressors(
        synthetic(rows=50), target="linear", cv=0, regressors=["bayesian_ridge"]
    )
    assert np.isnan(scores.cv_r2_mean).all() and np.isfinite(scores.split_r2).all()


def test_r2_on_too_few_rows_is_nan_with_the_minimum_stated():
    """R² on 2 test rows or 2-row folds (before 0.2.0: -93; -52 ± 148) is noise, not a score."""
    from hiddenstruct.predict.evaluate import MIN_SCORED_ROWS

    assert MIN_SCORED_ROWS == 5
    small = evaluate_regressors(
        synthetic(rows=20), target="linear", cv=10, test_size=0.1, regressors=["bayesian_ridge"]
    )
    row = small.iloc[0]
    assert row.n_test == 2 and np.isnan(row.split_r2) and np.isnan(row.cv_r2_mean)
    assert "split R²: only 2 rows scored (< 5" in row.notes
    assert "CV R²: 10 of 10 folds only 2 rows scored" in row.notes
    assert np.isfinite(row.split_mae)  # MAE stays: it needs no spread of the targets
    enough = evaluate_regressors(
        synthetic(rows=50), target="linear", cv=10, test_size=0.1, regressors=["bayesian_ridge"]
    ).iloc[0]
    assert enough.n_test == 5 and np.isfinite(enough.split_r2) and np.isfinite(enough.cv_r2_mean)


@pytest.mark.parametrize("value", [1e308, -1e308, 1e16])
def test_extreme_feature_values_are_one_usage_error(value):
    df = synthetic(rows=40)
    df.loc[3, "edges"] = value
    with pytest.raises(UsageError, match=r"column 'edges' has 1 value\(s\) beyond ±1e\+15"):
        evaluate_regressors(df, target="linear", cv=3)


def test_table_round_trip_is_atomic(tmp_path):
    df = synthetic(rows=10)
    path = write_table(df, tmp_path / "meta.csv")
    pd.testing.assert_frame_equal(read_table(path), df)
    assert [p.name for p in tmp_path.iterdir()] == ["meta.csv"]  # no temporary file left behind


def test_store_export_prefixes_are_resolved():
    df = synthetic(rows=60)
    exported = df.rename(
        columns={c: f"result.{c}" for c in ("nodes", "edges", "closeness_var", "linear")}
    )
    exported = exported.rename(columns={"mode": "config.mode"}).drop(columns=["diameter"])
    assert feature_columns(exported) == ["nodes", "edges", "closeness_var"]
    plain = correlations(df, "linear", ["nodes", "edges", "closeness_var"], group_by="mode")
    pd.testing.assert_frame_equal(correlations(exported, "linear", group_by="mode"), plain)
    scores = evaluate_regressors(
        exported,
        target="linear",
        group_by="mode",
        cv=2,
        test_size=0.3,  # >= 5 test rows in each group (about 30 rows each)
        regressors=["bayesian_ridge"],
    )
    assert set(scores.group) == {"GRU", "LSTM"} and (scores.split_r2 > 0.99).all()
    ambiguous = exported.assign(**{"config.nodes": 1.0})
    with pytest.raises(UsageError, match="ambiguous"):
        feature_columns(ambiguous)


def test_package_correlations_after_the_submodule_is_imported_first():
    # a fresh interpreter: in this one an earlier import may have cached the function already
    import subprocess
    import sys

    code = (
        "import importlib, pandas as pd, hiddenstruct.predict as p\n"
        "importlib.import_module('hiddenstruct.predict.correlation')\n"
        "df = pd.DataFrame({'x': [1.0, 2.0, 3.0, 4.0], 'y': [2.0, 4.0, 6.0, 8.0]})\n"
        "print(round(float(p.correlations(df, 'y', ['x']).loc['x', 'all']), 6))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1.0"
