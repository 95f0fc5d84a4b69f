"""Structural performance prediction: meta-datasets, correlations, regressors (DESIGN §7)."""

from hiddenstruct.predict.correlations import correlations, pearson
from hiddenstruct.predict.dataset import (
    feature_columns,
    meta_dataset,
    prepare_table,
    read_table,
    resolve_column,
    write_table,
)
from hiddenstruct.predict.evaluate import (
    IMPORTANCE_COLUMNS,
    R2_COLUMNS,
    PredictionConfig,
    evaluate_regressors,
    feature_importances,
    predict_structure,
    resolve_config,
)
from hiddenstruct.predict.regressors import REGRESSORS, make_regressor

__all__ = [
    "IMPORTANCE_COLUMNS",
    "R2_COLUMNS",
    "REGRESSORS",
    "PredictionConfig",
    "correlations",
    "evaluate_regressors",
    "feature_columns",
    "feature_importances",
    "make_regressor",
    "meta_dataset",
    "pearson",
    "predict_structure",
    "prepare_table",
    "read_table",
    "resolve_column",
    "resolve_config",
    "write_table",
]
