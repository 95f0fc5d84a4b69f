"""``hiddenstruct predict``: regress a metric on structural features (paper §4.3 R² table)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hiddenstruct.cli.common import non_negative_int, seed
from hiddenstruct.cli.paths import check_output_file
from hiddenstruct.predict.regressors import REGRESSORS


def register(subparsers) -> None:

    parser = subparsers.add_parser(
        "predict",
        help="predict a metric (e.g. test accuracy) from graph properties: R², correlations, importances",
        description="Structural performance prediction on a meta-dataset (one row per trained network: "
        "graph properties + measured metrics, e.g. the store's export). Features are min-max scaled "
        "inside a pipeline (fit on training rows only); BayesianRidge, RandomForest and AdaBoost "
        "(scikit-learn defaults, seeded) are scored by R² on one held-out split and by shuffled "
        "k-fold cross-validation, per group.",
    )
    parser.add_argument(
        "--input", "-i", type=Path, required=True, help="meta-dataset CSV (or .parquet)"
    )
    parser.add_argument("--target", required=True, help="column to predict, e.g. test_acc")
    parser.add_argument(
        "--group-by",
        default=None,
        metavar="COLUMN",
        help="fit and score separately per value, e.g. mode",
    )
    parser.add_argument(
        "--features",
        nargs="+",
        default=None,
        metavar="COLUMN",
        help="feature columns (default: every graph-property column (paper Table 1) present in the input)",
    )
    parser.add_argument(
        "--regressors",
        nargs="+",
        default=list(REGRESSORS),
        choices=list(REGRESSORS),
        metavar="NAME",
        help=f"regressors to score (default: all: {', '.join(REGRESSORS)})",
    )
    parser.add_argument(
        "--test-size",
        type=float,
        default=0.1,
        help="fraction of rows held out for split_r2, as in the paper (default: 0.1)",
    )
    parser.add_argument(
        "--seed", type=seed, default=7, help="seed of the split, folds and models (default: 7)"
    )
    parser.add_argument(
        "--cv",
        type=non_negative_int,
        default=10,
        help="folds of k-fold cross-validation, 0 = off (default: 10)",
    )
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        required=True,
        help="R² table (CSV): group,regressor,split_r2,cv_r2_mean,cv_r2_std",
    )
    parser.add_argument(
        "--correlations",
        type=Path,
        default=None,
        metavar="CSV",
        help="also write Pearson correlations of each feature with the target (rows: property, columns: groups)",
    )
    parser.add_argument(
        "--importances",
        type=Path,
        default=None,
        metavar="CSV",
        help="also write feature importances: group,regressor,method,feature,importance",
    )
    parser.add_argument(
        "--permutation-importance",
        action="store_true",
        help="add permutation importances on the held-out split (every regressor) to --importances",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hiddenstruct.predict import (
        PredictionConfig,
        correlations,
        evaluate_regressors,
        feature_importances,
        read_table,
        write_table,
    )

    for path in (args.output, args.correlations, args.importances):
        if path is not None:  # before any work: nothing half-written, no link followed
            check_output_file(path, (".csv", ".parquet"))
    df = read_table(args.input)
    config = PredictionConfig(
        target=args.target,
        features=tuple(args.features) if args.features else None,
        group_by=args.group_by,
        regressors=tuple(dict.fromkeys(args.regressors)),
        test_size=args.test_size,
        seed=args.seed,
        cv=args.cv,
        permutation=args.permutation_importance,
    )
    scores = evaluate_regressors(df, config)
    tables = [(scores, args.output, False)]
    if args.correlations is not None:
        tables.append(
            (
                correlations(df, config.target, config.features, config.group_by, notes=True),
                args.correlations,
                True,
            )
        )
    if args.importances is not None:
        tables.append((feature_importances(df, config), args.importances, False))
    for table, path, index in tables:  # everything computed first: no partial set of outputs
        path.parent.mkdir(parents=True, exist_ok=True)
        write_table(table, path, index=index)
    print(scores.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print(f"wrote {', '.join(str(path) for _, path, _ in tables)}")
    return 0
