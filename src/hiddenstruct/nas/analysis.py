"""Tables from search results: candidates, generations, the meta-dataset, correlations, summary."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from hiddenstruct.nas.features import FEATURE_NAMES, feature_vector
from hiddenstruct.nas.predictor import (
    PerformancePredictor,
    feature_correlation_values,
    holdout_scores,
    top_importances,
)
from hiddenstruct.nas.search import SearchResult
from hiddenstruct.predict.regressors import REGRESSORS


def candidate_rows(results: dict[str, SearchResult]) -> list[dict[str, Any]]:
    """One row per evaluated candidate of every search (measured or estimated)."""
    return [
        {
            "search": search,
            "generation": c.generation,
            "hash": c.genotype.hash[:16],
            "origin": c.origin,
            "measured": c.measured,
            "fitness": c.fitness,
            "predicted": c.predicted,
            "search_seconds": c.elapsed,
            "depth": c.genotype.depth,
            "vertices": len(c.genotype.vertices),
        }
        for search, result in results.items()
        for c in result.candidates
    ]


def generation_rows(results: dict[str, SearchResult]) -> list[dict[str, Any]]:
    """One row per generation of every search."""
    return [
        {"search": search, **asdict(g)}
        for search, result in results.items()
        for g in result.generations
    ]


def meta_dataset(results: dict[str, SearchResult], input_channels: int = 3) -> list[dict[str, Any]]:
    """Measured candidates with their 56 features and ``max_val_accuracy`` (the meta-dataset)."""
    rows = []
    measured = [c.measured for result in results.values() for c in result.candidates]
    genotypes = [c.genotype for result in results.values() for c in result.candidates]
    for row, is_measured, genotype in zip(
        candidate_rows(results), measured, genotypes, strict=True
    ):
        if is_measured:
            feats = feature_vector(genotype, input_channels).tolist()
            rows.append(
                {
                    **row,
                    "max_val_accuracy": row["fitness"],
                    **dict(zip(FEATURE_NAMES, feats, strict=True)),
                }
            )
    return rows


def feature_matrix(rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(X [n × 56], y [n]) of meta-dataset rows."""
    X = np.array([[row[n] for n in FEATURE_NAMES] for row in rows], dtype=float).reshape(
        len(rows), len(FEATURE_NAMES)
    )
    return X, np.array([row["max_val_accuracy"] for row in rows], dtype=float)


def correlations_and_importances(
    rows: list[dict[str, Any]], predictor: str = "random_forest", seed: int = 0, top: int = 10
) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """Pearson r of every feature with accuracy, and the ``top`` feature importances of a fitted regressor."""
    corr = correlation_rows(rows)
    if len(rows) < 2:
        return {r["feature"]: r["pearson_r"] for r in corr}, []
    X, y = feature_matrix(rows)
    model = PerformancePredictor(predictor, seed=seed).fit_features(X, y)
    return {r["feature"]: r["pearson_r"] for r in corr}, top_importances(
        model.feature_importances(), top
    )


def correlation_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per feature: ``feature, pearson_r, notes`` (NaN with the reason when undefined)."""
    X, y = feature_matrix(rows)
    values = feature_correlation_values(X, y)
    return [
        {"feature": name, "pearson_r": v.value, "notes": v.reason or ""}
        for name, v in values.items()
    ]


def predictor_evaluation(
    rows: list[dict[str, Any]],
    predictor: str = "random_forest",
    seed: int = 0,
    test_fraction: float = 0.3,
    cv: int = 5,
) -> dict[str, Any]:
    """The predictor on the meta-dataset: R² and MAE on a held-out ``test_fraction`` plus CV.

    Paper §4.4: "we split it into 70% training and 30% testing". NaN with ``notes`` when
    the meta-dataset is too small for the split or the folds.
    """
    X, y = feature_matrix(rows)
    scores = holdout_scores(X, y, predictor, test_fraction=test_fraction, cv=cv, seed=seed)
    return {"rows": len(rows), "test_fraction": test_fraction, "cv": cv, **scores}


def predictor_scores(
    rows: list[dict[str, Any]], seed: int = 0, test_fraction: float = 0.3, cv: int = 5
) -> list[dict[str, Any]]:
    """:func:`predictor_evaluation` of every regressor of the registry, one row each."""
    return [predictor_evaluation(rows, name, seed, test_fraction, cv) for name in REGRESSORS]


def summarize(results: dict[str, SearchResult]) -> dict[str, Any]:
    """Per search: best measured accuracy, search seconds, counts, predictor error; plus the speed-up."""
    summary: dict[str, Any] = {}
    for search, result in results.items():
        best = result.best()
        summary[search] = {
            "best_val_accuracy": best.fitness,
            "search_seconds": result.generations[-1].elapsed,
            "generations": len(result.generations),
            "measured": len(result.measured),
            "estimated": len(result.candidates) - len(result.measured),
            "predictor_mae": result.generations[-1].predictor_mae,
            "best_hash": best.genotype.hash,
            **result.costs,
        }
    if {"prediction", "no_prediction"} <= set(summary):
        summary.update(_speedup(results["prediction"], results["no_prediction"]))
        with_p, without = summary["prediction"], summary["no_prediction"]
        same_work = with_p["generations"] == without["generations"]
        if with_p.get("train_cpu_seconds") and same_work:
            summary["cpu_speedup_from_prediction"] = (
                without["train_cpu_seconds"] / with_p["train_cpu_seconds"]
            )
        if with_p["measured"] and same_work:
            summary["trained_ratio"] = without["measured"] / with_p["measured"]
    return summary


def _speedup(with_p: SearchResult, without: SearchResult) -> dict[str, Any]:
    """Seconds the search without prediction took for the generations both searches completed,
    over the seconds the one with prediction took for them.

    Under a time budget the two searches stop after different numbers of generations (each
    finishes the generation it is in), so their total times compare different amounts of
    work; the elapsed time at the last generation both reached does not. The CPU-time and
    trained-count ratios are totals, so they are only given when both ran the same number of
    generations."""
    common = min(len(with_p.generations), len(without.generations))
    if common == 0:
        return {}
    fast = with_p.generations[common - 1].elapsed
    slow = without.generations[common - 1].elapsed
    out: dict[str, Any] = {"speedup_generations": common}
    if fast > 0:
        out["speedup_from_prediction"] = slow / fast
    return out
