"""``hiddenstruct predict``: CSV round trip, exact output columns, usage errors, no partial output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hiddenstruct.cli.main import main
from hiddenstruct.predict import R2_COLUMNS, evaluate_regressors


def _meta_csv(path, rows: int = 80, seed: int = 0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "graph": [f"g{i}" for i in range(rows)],
            "mode": rng.choice(["GRU", "RNN_TANH"], rows),
            "nodes": rng.integers(10, 51, rows),
            "edges": rng.uniform(10, 300, rows),
            "nodes_betweenness_var": rng.uniform(0, 0.05, rows),
            "seconds": rng.uniform(1, 2, rows),  # not a property: not a default feature
        }
    )
    df["test_acc"] = 0.4 + 0.01 * df["nodes"] - 3.0 * df["nodes_betweenness_var"]
    df.to_csv(path, index=False)
    return df


def test_round_trip_writes_r2_correlations_and_importances(tmp_path, capsys):
    df = _meta_csv(tmp_path / "meta.csv", rows=150)  # >= 5 test rows per mode
    r2, corr, imp = tmp_path / "out" / "r2.csv", tmp_path / "corr.csv", tmp_path / "imp.csv"
    argv = [
        "predict",
        "--input",
        str(tmp_path / "meta.csv"),
        "--target",
        "test_acc",
        "--group-by",
        "mode",
    ]
    argv += [
        "--cv",
        "2",
        "--seed",
        "7",
        "--output",
        str(r2),
        "--correlations",
        str(corr),
        "--importances",
        str(imp),
    ]
    assert main(argv) == 0
    scores = pd.read_csv(r2)
    assert list(scores.columns) == list(R2_COLUMNS)
    assert scores.notes.isna().all()  # nothing undefined here: an empty notes field
    assert sorted(set(scores.group)) == ["GRU", "RNN_TANH"]
    assert set(scores.regressor) == {"bayesian_ridge", "random_forest", "adaboost"}
    assert (scores[scores.regressor == "bayesian_ridge"].split_r2 > 0.99).all()
    expected = evaluate_regressors(df, target="test_acc", group_by="mode", cv=2, seed=7)
    np.testing.assert_allclose(scores[["split_r2", "cv_r2_mean", "cv_r2_std"]], expected[["split_r2", "cv_r2_mean", "cv_r2_std"]], rtol=1e-9)  # fmt: skip
    table = pd.read_csv(corr, index_col="property")
    assert list(table.index) == [
        "nodes",
        "edges",
        "nodes_betweenness_var",
    ]  # default: property columns only
    assert list(table.columns) == ["GRU", "RNN_TANH", "notes"]
    groups = table[["GRU", "RNN_TANH"]]
    assert (groups.loc["nodes"] > 0).all() and (groups.loc["nodes_betweenness_var"] < 0).all()
    importances = pd.read_csv(imp)
    assert list(importances.columns) == ["group", "regressor", "method", "feature", "importance"]
    assert set(importances.feature) == {"nodes", "edges", "nodes_betweenness_var"}
    assert "random_forest" in capsys.readouterr().out


def test_explicit_features_and_regressors(tmp_path):
    _meta_csv(tmp_path / "meta.csv")
    out = tmp_path / "r2.csv"
    argv = [
        "predict",
        "-i",
        str(tmp_path / "meta.csv"),
        "--target",
        "test_acc",
        "--features",
        "nodes",
        "seconds",
    ]
    argv += ["--regressors", "bayesian_ridge", "--cv", "0", "-o", str(out)]
    assert main(argv) == 0
    scores = pd.read_csv(out)
    assert list(scores.regressor) == ["bayesian_ridge"] and list(scores.group) == ["all"]
    assert scores.cv_r2_mean.isna().all()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target", "accuracy"], "target column 'accuracy'"),
        (["--target", "test_acc", "--features", "nodes", "depth"], "depth"),
        (["--target", "test_acc", "--group-by", "family"], "group column 'family'"),
        (["--target", "test_acc", "--cv", "50"], "too few for 50-fold"),
        (["--target", "test_acc", "--test-size", "0"], "test size"),
    ],
)
def test_usage_errors_exit_2_without_output(tmp_path, capsys, extra, message):
    _meta_csv(tmp_path / "meta.csv")
    out, corr = tmp_path / "r2.csv", tmp_path / "corr.csv"
    argv = [
        "predict",
        "-i",
        str(tmp_path / "meta.csv"),
        *extra,
        "-o",
        str(out),
        "--correlations",
        str(corr),
    ]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not corr.exists()


def test_missing_input_exits_1(tmp_path, capsys):
    out = tmp_path / "r2.csv"
    assert (
        main(["predict", "-i", str(tmp_path / "none.csv"), "--target", "test_acc", "-o", str(out)])
        == 1
    )
    assert "none.csv" in capsys.readouterr().err and not out.exists()
