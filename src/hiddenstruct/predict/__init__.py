"""Structural performance prediction: meta-datasets, correlations, regressors (paper §4.3 and §4.4, docs/priors-and-prediction.md).

Names are imported lazily (PEP 562): pandas and scikit-learn load on first use, which keeps
the command line's start-up fast.
"""

from __future__ import annotations

from hiddenstruct.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "correlation": ("correlations", "pearson"),
        "dataset": (
            "feature_columns",
            "meta_dataset",
            "prepare_table",
            "read_table",
            "resolve_column",
            "write_table",
        ),
        "evaluate": (
            "IMPORTANCE_COLUMNS",
            "R2_COLUMNS",
            "score_regressor",
            "PredictionConfig",
            "evaluate_regressors",
            "feature_importances",
            "predict_structure",
            "resolve_config",
        ),
        "regressors": (
            "REGRESSORS",
            "make_regressor",
            "canonical_regressor",
            "fitted_importances",
            "ALIASES",
        ),
    },
)
