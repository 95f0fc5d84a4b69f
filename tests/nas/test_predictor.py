"""Performance predictor: registry, fit/predict, importances, correlations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hiddenstruct.errors import UsageError
from hiddenstruct.nas import FEATURE_NAMES, REGRESSORS, PerformancePredictor, random_genotype
from hiddenstruct.nas.predictor import feature_correlations, top_importances


def test_unknown_regressor_lists_valid_names():
    with pytest.raises(UsageError, match="random_forest"):
        PerformancePredictor("oracle")


def test_unfitted_predictor_refuses():
    with pytest.raises(UsageError):
        PerformancePredictor().predict([random_genotype(0, 3, 5)])


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_learns_a_structural_target(name):
    genotypes = [random_genotype(seed, 3, 12) for seed in range(40)]
    target = np.array([g.depth / 12 for g in genotypes])
    model = PerformancePredictor(name, seed=0).fit(genotypes[:30], target[:30])
    predicted = model.predict(genotypes[30:])
    assert predicted.shape == (10,)
    assert np.corrcoef(predicted, target[30:])[0, 1] > 0.8
    importances = model.feature_importances()
    assert set(importances) == set(FEATURE_NAMES)
    assert all(v >= 0 for v in importances.values())
    best = top_importances(importances, 3)
    assert [v for _, v in best] == sorted((v for _, v in best), reverse=True)


def test_random_forest_is_seeded():
    genotypes = [random_genotype(seed, 3, 9) for seed in range(20)]
    y = [len(g.vertices) % 5 for g in genotypes]
    a = PerformancePredictor(seed=1).fit(genotypes, y).predict(genotypes[:5])
    b = PerformancePredictor(seed=1).fit(genotypes, y).predict(genotypes[:5])
    assert np.array_equal(a, b)


def test_correlations_match_numpy_and_constant_columns_are_nan():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 56))
    X[:, 3] = 1.0
    y = X[:, 0] * 2 + rng.normal(size=12) * 0.1
    corr = feature_correlations(X, y)
    assert corr[FEATURE_NAMES[0]] == pytest.approx(np.corrcoef(X[:, 0], y)[0, 1])
    assert math.isnan(corr[FEATURE_NAMES[3]])
