"""NAS protocol: weighted mutations (paper: insert only), the predictor's 70/30 hold-out, aliases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hiddenstruct.errors import UsageError
from hiddenstruct.nas import GeneticConfig, Genotype, genetic_search, random_genotype
from hiddenstruct.nas.analysis import correlation_rows, predictor_evaluation
from hiddenstruct.nas.features import FEATURE_NAMES, feature_vector
from hiddenstruct.nas.operators import (
    MUTATIONS,
    PAPER_MUTATIONS,
    UNIFORM_MUTATIONS,
    choose_mutation,
    mutation_weights,
)
from hiddenstruct.nas.predictor import PerformancePredictor, holdout_scores

SMALL = {"population": 6, "generations": 4, "min_measured": 4, "min_depth": 4, "max_depth": 6}


def _depth_score(genotypes: list[Genotype]) -> list[float]:
    return [1.0 / (1.0 + abs(g.depth - 8)) for g in genotypes]


def test_mutation_weights_parse_validate_and_normalise():
    assert mutation_weights({"remap": 1, "insert": 3}) == (("insert", 3.0), ("remap", 1.0))
    assert mutation_weights("insert") == PAPER_MUTATIONS
    assert mutation_weights("insert:1,remap:0") == PAPER_MUTATIONS  # zero weight = off
    assert mutation_weights([("remap", 2.0), ("insert", 2.0)]) == (("insert", 2.0), ("remap", 2.0))
    for bad, message in [
        ({"grow": 1.0}, "valid: insert, remap"),
        ({"insert": -1.0}, ">= 0"),
        ({"insert": 0.0}, "positive weight"),
        ("insert:x", "not a number"),
        ([("insert", 1.0), ("insert", 2.0)], "repeated"),
    ]:
        with pytest.raises(UsageError, match=message):
            mutation_weights(bad)


def test_uniform_weights_keep_the_0_1_0_draw():
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    old = [sorted(MUTATIONS)[int(b.integers(len(MUTATIONS)))] for _ in range(50)]
    assert [choose_mutation(UNIFORM_MUTATIONS, a) for _ in range(50)] == old
    assert GeneticConfig().mutations == UNIFORM_MUTATIONS


def test_weighted_draw_follows_the_weights():
    rng = np.random.default_rng(0)
    draws = [choose_mutation((("insert", 3.0), ("remap", 1.0)), rng) for _ in range(4000)]
    assert draws.count("insert") / len(draws) == pytest.approx(0.75, abs=0.03)


def test_insert_only_search_never_remaps():
    cfg = GeneticConfig(seed=2, mutation_probability=1.0, mutations={"insert": 1.0}, **SMALL)
    result = genetic_search(cfg, _depth_score)
    origins = {c.origin for c in result.candidates}
    assert "insert" in origins and not any("remap" in o for o in origins)
    uniform = genetic_search(GeneticConfig(seed=2, mutation_probability=1.0, **SMALL), _depth_score)
    assert any("remap" in c.origin for c in uniform.candidates)


def test_old_predictor_spelling_still_works():
    assert GeneticConfig(predictor="ada_boost").predictor == "adaboost"
    assert PerformancePredictor("ada_boost").name == "adaboost"
    with pytest.raises(UsageError, match="valid: bayesian_ridge, random_forest, adaboost"):
        GeneticConfig(predictor="oracle")


def _meta(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    genotypes = [random_genotype(seed * 1000 + i, 3, 12) for i in range(n)]
    X = np.stack([feature_vector(g, 3) for g in genotypes])
    return X, np.array([g.depth / 12 for g in genotypes])


def test_holdout_is_a_70_30_split_with_r2_and_mae():
    X, y = _meta(40)
    row = holdout_scores(X, y, "random_forest", test_fraction=0.3, cv=4, seed=0)
    assert (row["n_train"], row["n_test"]) == (28, 12)
    assert row["split_r2"] > 0.8 and 0 <= row["split_mae"] < 0.1
    assert math.isfinite(row["cv_r2_mean"]) and row["notes"] == ""
    # the held-out R² is measured on rows the predictor never saw: fitting on all 40 rows
    # and scoring the same 12 would be optimistic
    assert row["split_r2"] < 1.0


def test_small_meta_dataset_gives_nan_with_reason():
    X, y = _meta(17)  # 6 held-out rows (R² needs >= 5), too few for 10-fold CV (20)
    row = holdout_scores(X, y, test_fraction=0.3, cv=10)
    assert math.isfinite(row["split_r2"]) and math.isnan(row["cv_r2_mean"])
    assert "CV skipped" in row["notes"] and "CV off" not in row["notes"]
    few = holdout_scores(*_meta(9), test_fraction=0.3, cv=0)  # 3 held-out rows
    assert math.isnan(few["split_r2"]) and "only 3 rows scored (< 5" in few["notes"]
    X, y = _meta(9)
    tiny = holdout_scores(*_meta(3), test_fraction=0.3, cv=5)
    assert math.isnan(tiny["split_r2"]) and "no held-out split" in tiny["notes"]
    flat = holdout_scores(X, np.full(9, 0.5), cv=0)
    assert math.isnan(flat["split_r2"]) and "constant target" in flat["notes"]
    with pytest.raises(UsageError, match="test fraction"):
        holdout_scores(X, y, test_fraction=1.0)


def test_analysis_rows_carry_notes():
    X, y = _meta(12)
    X[:, 5] = 2.0  # a feature that never varies (e.g. an operation no candidate uses)
    rows = [
        {**dict(zip(FEATURE_NAMES, x, strict=True)), "max_val_accuracy": t}
        for x, t in zip(X, y, strict=True)
    ]
    evaluation = predictor_evaluation(rows, test_fraction=0.3, cv=0)
    assert evaluation["rows"] == 12 and evaluation["n_test"] == 4
    corr = {r["feature"]: r for r in correlation_rows(rows)}
    constant = [f for j, f in enumerate(FEATURE_NAMES) if np.ptp(X[:, j]) == 0]
    assert FEATURE_NAMES[5] in constant and all(
        corr[f]["notes"] == "constant feature" for f in constant
    )
    assert all(math.isnan(corr[f]["pearson_r"]) for f in constant)


def test_speedup_compares_the_generations_both_searches_completed():
    # under a time budget the searches stop after different generation counts: the speed-up
    # is the ratio of the elapsed times at the last generation both reached, not of totals
    from types import SimpleNamespace

    from hiddenstruct.nas.analysis import _speedup

    def search(*elapsed):
        return SimpleNamespace(generations=[SimpleNamespace(elapsed=e) for e in elapsed])

    with_p = search(60.0, 110.0, 160.0, 217.0, 278.0)  # 5 generations
    without = search(60.0, 150.0, 250.0, 363.0)  # 4 generations, more time each
    out = _speedup(with_p, without)
    assert out["speedup_generations"] == 4
    assert out["speedup_from_prediction"] == pytest.approx(363.0 / 217.0)
    assert _speedup(search(), without) == {}
