"""Genetic and random search: settings checks, reproducibility, estimation skips training."""

from __future__ import annotations

import math

import pytest

from hiddenstruct.errors import UsageError
from hiddenstruct.nas import (
    GeneticConfig,
    Genotype,
    RandomSearchConfig,
    genetic_search,
    random_search,
)


def _accuracy(g: Genotype) -> float:
    """A cheap deterministic stand-in for training: prefers depth 8 and few pools."""
    pools = sum(v.op.endswith("pool") for v in g.vertices)
    return 1.0 / (1.0 + abs(g.depth - 8)) - 0.01 * pools


class CountingTrainer:
    def __init__(self) -> None:
        self.trained: list[str] = []

    def __call__(self, genotypes: list[Genotype]) -> list[float]:
        self.trained += [g.hash for g in genotypes]
        return [_accuracy(g) for g in genotypes]


class FakeClock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


SMALL = dict(population=8, generations=4, min_depth=4, max_depth=7, min_measured=6)


@pytest.mark.parametrize(
    "settings",
    [
        {"population": 1},
        {"population": 0},
        {"mutation_probability": 1.5},
        {"crossover_probability": -0.1},
        {"remove_worst_probability": 2},
        {"estimation_fraction": -1},
        {"min_depth": 9, "max_depth": 6},
        {"predictor": "oracle"},
        {"generations": 0},
    ],
)
def test_impossible_settings_are_usage_errors(settings):
    with pytest.raises(UsageError):
        GeneticConfig(**settings)


def test_paper_defaults():
    cfg = GeneticConfig()
    assert (cfg.population, cfg.mutation_probability, cfg.crossover_probability) == (30, 0.5, 0.0)
    assert (cfg.remove_worst_probability, cfg.estimation_fraction) == (0.1, 0.5)
    assert (cfg.min_depth, cfg.max_depth) == (6, 12)
    assert (RandomSearchConfig().min_depth, RandomSearchConfig().max_depth) == (10, 36)


def test_search_is_reproducible_by_seed():
    cfg = GeneticConfig(seed=3, crossover_probability=0.5, **SMALL)
    a = genetic_search(cfg, CountingTrainer())
    b = genetic_search(cfg, CountingTrainer())
    key = lambda r: [(c.genotype.hash, c.fitness, c.measured, c.origin) for c in r.candidates]  # noqa: E731
    assert key(a) == key(b)
    c = genetic_search(GeneticConfig(seed=4, crossover_probability=0.5, **SMALL), CountingTrainer())
    assert key(c) != key(a)


def test_estimated_candidates_are_not_trained():
    trainer = CountingTrainer()
    result = genetic_search(GeneticConfig(seed=0, estimation_fraction=0.5, **SMALL), trainer)
    estimated = [c for c in result.candidates if not c.measured]
    measured = result.measured
    assert estimated, "with 8 measured rows after generation 0 the predictor must estimate some"
    assert sorted(trainer.trained) == sorted(c.genotype.hash for c in measured)
    assert not {c.genotype.hash for c in estimated} & set(trainer.trained)
    assert len(trainer.trained) == len(set(trainer.trained))  # nothing trained twice
    # the estimated share of each generation follows the fraction (rounded)
    for log in result.generations[1:]:
        new = log.measured + log.estimated
        assert log.estimated == math.floor(0.5 * new + 0.5)
    # measured candidates evaluated once a predictor existed carry its estimate -> running error
    assert any(c.predicted is not None for c in measured)
    assert result.generations[-1].predictor_mae is not None
    assert result.generations[-1].predictor_mae >= 0


def test_without_prediction_everything_is_trained():
    trainer = CountingTrainer()
    result = genetic_search(GeneticConfig(seed=0, estimation_fraction=0.0, **SMALL), trainer)
    assert all(c.measured and c.predicted is None for c in result.candidates)
    assert len(trainer.trained) == len(result.candidates)


def test_population_and_best_are_consistent():
    result = genetic_search(
        GeneticConfig(seed=1, remove_worst_probability=0.3, **SMALL), CountingTrainer()
    )
    assert len(result.generations) == SMALL["generations"]
    assert 1 <= len(result.population) <= SMALL["population"]
    best = result.best()
    assert best.measured and best.fitness == max(c.fitness for c in result.measured)
    bests = [log.best_measured for log in result.generations]
    assert bests == sorted(bests)  # best measured accuracy never decreases over time
    for c in result.candidates:
        if c.origin in ("random", "resample"):
            assert 4 <= c.genotype.depth <= 7


def test_time_budget_stops_early():
    clock = FakeClock(step=1.0)
    cfg = GeneticConfig(seed=0, time_budget=5.0, **{**SMALL, "generations": 50})
    result = genetic_search(cfg, CountingTrainer(), clock=clock)
    assert 1 <= len(result.generations) < 50


def test_random_search_measures_everything_in_depth_range():
    trainer = CountingTrainer()
    cfg = RandomSearchConfig(
        samples_per_generation=5, generations=3, min_depth=5, max_depth=9, seed=2
    )
    result = random_search(cfg, trainer)
    assert len(result.generations) == 3
    assert all(c.measured for c in result.candidates)
    assert all(5 <= c.genotype.depth <= 9 for c in result.candidates)
    assert len(trainer.trained) == len(result.candidates)
    again = random_search(cfg, CountingTrainer())
    assert [c.genotype.hash for c in again.candidates] == [
        c.genotype.hash for c in result.candidates
    ]
