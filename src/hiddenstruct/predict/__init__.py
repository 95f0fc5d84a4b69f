"""Structural performance prediction: meta-datasets, correlations, regressors (paper §4.3 and §4.4, docs/priors-and-prediction.md).

Names are imported lazily (PEP 562): pandas and scikit-learn load on first use, which keeps
the command line's start-up fast.
"""

from __future__ import annotations

from hiddenstruct.lazy import lazy_exports

_EXPORTS = {
    "correlations": "correlation",
    "pearson": "correlation",
    "feature_columns": "dataset",
    "meta_dataset": "dataset",
    "prepare_table": "dataset",
    "read_table": "dataset",
    "resolve_column": "dataset",
    "write_table": "dataset",
    "IMPORTANCE_COLUMNS": "evaluate",
    "R2_COLUMNS": "evaluate",
    "score_regressor": "evaluate",
    "PredictionConfig": "evaluate",
    "evaluate_regressors": "evaluate",
    "feature_importances": "evaluate",
    "predict_structure": "evaluate",
    "resolve_config": "evaluate",
    "REGRESSORS": "regressors",
    "make_regressor": "regressors",
    "canonical_regressor": "regressors",
    "fitted_importances": "regressors",
    "ALIASES": "regressors",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
