"""Genetic architecture search with architectural performance prediction, and random search.

The search is independent of how a candidate is trained: it calls an ``evaluate`` function
``(genotypes) -> accuracies`` for the candidates it decides to *measure* (the experiment
layer runs them as trials in the store, so a search resumes after an interruption), and
estimates the others with a :class:`~hiddenstruct.nas.predictor.PerformancePredictor`.

One generation of :func:`genetic_search` (all randomness from ``numpy.random.default_rng(seed)``):

1. ``k ~ Binomial(population, remove_worst_probability)`` fresh random genotypes are drawn
   (re-sampling); they will replace the ``k`` worst candidates.
2. ``population`` offspring: a parent is chosen by tournament selection; with
   ``crossover_probability`` it is crossed (a random crossover) with a second tournament
   winner (first child kept); then with ``mutation_probability`` a mutation drawn by
   ``mutations`` weights is applied (default: remap and insert equally likely). An offspring identical to an evaluated genotype reuses its fitness.
3. New genotypes are evaluated. Once ``min_measured`` candidates were measured, the
   ``estimation_fraction`` of them (chosen at random) is *estimated* by the predictor
   (refitted on every measured candidate) instead of trained; the rest is measured.
   For measured ones the predictor's estimate is recorded too (its running error).
4. The next population: the best ``population - k`` of old population ∪ offspring
   (estimated fitness counts as fitness), plus the ``k`` fresh genotypes.

The search stops after ``generations`` generations (the initial random one included) or
when ``time_budget`` seconds have passed (checked between generations).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hiddenstruct.errors import UsageError
from hiddenstruct.nas.features import feature_vector
from hiddenstruct.nas.genotype import Genotype
from hiddenstruct.nas.operators import (
    CROSSOVERS,
    DEFAULT_SPACE,
    MUTATIONS,
    UNIFORM_MUTATIONS,
    SearchSpace,
    choose_mutation,
    mutation_weights,
    random_genotype,
)
from hiddenstruct.nas.predictor import PerformancePredictor, canonical_regressor

Evaluate = Callable[[list[Genotype]], list[float]]


def _check_fraction(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        raise UsageError(f"{name} must lie in [0, 1], got {value!r}")


def _check_depth_range(min_depth: int, max_depth: int) -> None:
    if not 3 <= min_depth <= max_depth:
        raise UsageError(
            f"depth range must satisfy 3 ≤ min_depth ≤ max_depth, got {min_depth}..{max_depth}"
        )


def _check_time_budget(time_budget: float | None) -> None:
    if time_budget is not None and time_budget <= 0:
        raise UsageError(f"time_budget must be positive seconds, got {time_budget}")


@dataclass(frozen=True)
class GeneticConfig:
    """Settings of :func:`genetic_search`. Defaults: the paper's §4.4 values (population, the
    three probabilities, the estimation fraction, the depths), except ``generations`` (our
    choice: the paper gives no generation count)."""

    population: int = 30  # candidates per generation
    generations: int = 10  # generations, the initial random one included
    mutation_probability: float = 0.5
    crossover_probability: float = 0.0
    remove_worst_probability: float = (
        0.1  # per slot: chance that one more worst candidate is re-sampled
    )
    estimation_fraction: float = (
        0.5  # share of new candidates estimated instead of trained (0 = off)
    )
    min_measured: int = 10  # measured candidates needed before the predictor is used
    min_depth: int = 6
    max_depth: int = 12
    tournament_size: int = 2
    predictor: str = "random_forest"
    time_budget: float | None = None  # seconds; None = only the generation limit
    seed: int = 0
    input_channels: int = 3  # image channels (features use them for layer masses)
    space: SearchSpace = DEFAULT_SPACE
    # mutation name → weight, e.g. {"insert": 1.0} (the paper's final choice); see mutation_weights
    mutations: Mapping[str, float] | tuple[tuple[str, float], ...] = UNIFORM_MUTATIONS

    def __post_init__(self) -> None:
        object.__setattr__(self, "mutations", mutation_weights(self.mutations))
        object.__setattr__(self, "predictor", canonical_regressor(self.predictor))
        if self.population < 2:
            raise UsageError(f"population must be at least 2, got {self.population}")
        if self.generations < 1:
            raise UsageError(f"generations must be at least 1, got {self.generations}")
        for name in (
            "mutation_probability",
            "crossover_probability",
            "remove_worst_probability",
            "estimation_fraction",
        ):
            _check_fraction(name, getattr(self, name))
        if self.min_measured < 2:
            raise UsageError(
                f"min_measured must be at least 2 (the predictor needs data), got {self.min_measured}"
            )
        _check_depth_range(self.min_depth, self.max_depth)
        if not 1 <= self.tournament_size <= self.population:
            raise UsageError(
                f"tournament_size must lie in 1..population, got {self.tournament_size}"
            )
        _check_time_budget(self.time_budget)


@dataclass(frozen=True)
class RandomSearchConfig:
    """Settings of :func:`random_search` (paper: depth 10–36)."""

    samples_per_generation: int = 30
    generations: int = 10
    min_depth: int = 10
    max_depth: int = 36
    time_budget: float | None = None
    seed: int = 0
    space: SearchSpace = DEFAULT_SPACE

    def __post_init__(self) -> None:
        if self.samples_per_generation < 1 or self.generations < 1:
            raise UsageError("samples_per_generation and generations must be at least 1")
        _check_depth_range(self.min_depth, self.max_depth)
        _check_time_budget(self.time_budget)


@dataclass(frozen=True)
class Candidate:
    """One evaluated genotype: fitness, whether it was measured or estimated, and when."""

    genotype: Genotype
    generation: int
    fitness: float
    measured: bool
    predicted: (
        float | None
    )  # the predictor's estimate when it was evaluated (None: no predictor yet)
    elapsed: float  # seconds since the search started when the fitness became known
    origin: str  # "random", "resample", "copy" or the operators applied, e.g. "bridge+insert"


@dataclass(frozen=True)
class GenerationLog:
    """Summary of one generation."""

    generation: int
    elapsed: float
    measured: int  # candidates trained in this generation
    estimated: int  # candidates estimated in this generation
    best_measured: float  # best measured accuracy so far (NaN before any)
    best_fitness: float  # best fitness in the population (measured or estimated)
    predictor_mae: float | None  # running mean |estimate − measured| over measured candidates


@dataclass
class SearchResult:
    """Everything a search evaluated, its generations and its final population."""

    candidates: list[Candidate] = field(default_factory=list)
    generations: list[GenerationLog] = field(default_factory=list)
    population: list[Candidate] = field(default_factory=list)
    costs: dict[str, float] = field(
        default_factory=dict
    )  # filled by the caller (e.g. trial seconds)

    def best(self, measured_only: bool = True) -> Candidate:
        """The best candidate (by default among measured ones only)."""
        pool = [c for c in self.candidates if c.measured or not measured_only]
        if not pool:
            raise UsageError("the search evaluated no candidate")
        return max(pool, key=lambda c: (c.fitness, -c.elapsed))

    @property
    def measured(self) -> list[Candidate]:
        """Candidates that were trained."""
        return [c for c in self.candidates if c.measured]


class _Evaluator:
    """Evaluates new genotypes (measured or estimated) and keeps the cache and the logs."""

    def __init__(
        self,
        config: GeneticConfig | None,
        evaluate: Evaluate,
        clock: Callable[[], float],
        rng: np.random.Generator,
    ) -> None:
        self.config = config
        self.evaluate = evaluate
        self.clock = clock
        self.start = clock()
        self.rng = rng
        self.cache: dict[str, Candidate] = {}
        self.result = SearchResult()
        self.features: dict[str, np.ndarray] = {}
        self.errors: list[float] = []

    def _features(self, g: Genotype) -> np.ndarray:
        if g.hash not in self.features:
            channels = self.config.input_channels if self.config else 3
            self.features[g.hash] = feature_vector(g, channels)
        return self.features[g.hash]

    def _predictor(self, generation: int) -> PerformancePredictor | None:
        cfg = self.config
        measured = self.result.measured
        if cfg is None or cfg.estimation_fraction == 0 or len(measured) < cfg.min_measured:
            return None
        predictor = PerformancePredictor(
            cfg.predictor, seed=cfg.seed + generation, input_channels=cfg.input_channels
        )
        X = np.stack([self._features(c.genotype) for c in measured])
        return predictor.fit_features(X, [c.fitness for c in measured])

    def run(
        self, genotypes: Sequence[Genotype], origins: Sequence[str], generation: int
    ) -> tuple[list[Candidate], int, int]:
        """Candidates for ``genotypes`` (new ones evaluated); returns (candidates, measured, estimated)."""
        new: dict[str, tuple[Genotype, str]] = {}
        for g, origin in zip(genotypes, origins, strict=True):
            if g.hash not in self.cache and g.hash not in new:
                new[g.hash] = (g, origin)
        items = list(new.values())
        predictor = self._predictor(generation)
        estimates: list[float | None] = [None] * len(items)
        estimate_idx: set[int] = set()
        if predictor is not None and items:
            estimates = list(
                predictor.predict_features(np.stack([self._features(g) for g, _ in items]))
            )
            count = int(math.floor(self.config.estimation_fraction * len(items) + 0.5))
            estimate_idx = {int(i) for i in self.rng.permutation(len(items))[:count]}
        to_measure = [i for i in range(len(items)) if i not in estimate_idx]
        accuracies = self.evaluate([items[i][0] for i in to_measure]) if to_measure else []
        if len(accuracies) != len(to_measure):
            raise UsageError(
                f"evaluate returned {len(accuracies)} accuracies for {len(to_measure)} genotypes"
            )
        now = self.clock() - self.start
        fitness = dict(zip(to_measure, accuracies, strict=True))
        for i, (g, origin) in enumerate(items):
            measured = i not in estimate_idx
            value = float(fitness[i]) if measured else float(estimates[i])
            value = value if math.isfinite(value) else 0.0
            if measured and estimates[i] is not None:
                self.errors.append(abs(float(estimates[i]) - value))
            cand = Candidate(
                g,
                generation,
                value,
                measured,
                None if estimates[i] is None else float(estimates[i]),
                now,
                origin,
            )
            self.cache[g.hash] = cand
            self.result.candidates.append(cand)
        return [self.cache[g.hash] for g in genotypes], len(to_measure), len(estimate_idx)

    def log(
        self, generation: int, population: list[Candidate], measured: int, estimated: int
    ) -> GenerationLog:
        best = [c.fitness for c in self.result.candidates if c.measured]
        entry = GenerationLog(
            generation=generation,
            elapsed=self.clock() - self.start,
            measured=measured,
            estimated=estimated,
            best_measured=max(best) if best else float("nan"),
            best_fitness=max(c.fitness for c in population),
            predictor_mae=float(np.mean(self.errors)) if self.errors else None,
        )
        self.result.generations.append(entry)
        return entry

    def out_of_time(self, budget: float | None) -> bool:
        return budget is not None and self.clock() - self.start >= budget


def _unique(candidates: Sequence[Candidate]) -> list[Candidate]:
    seen: dict[str, Candidate] = {}
    for c in candidates:
        seen.setdefault(c.genotype.hash, c)
    return list(seen.values())


def _rank(candidates: Sequence[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (-c.fitness, c.genotype.hash))


def _tournament(population: Sequence[Candidate], size: int, rng: np.random.Generator) -> Candidate:
    picks = rng.choice(len(population), size=min(size, len(population)), replace=False)
    return _rank([population[int(i)] for i in picks])[0]


def _offspring(
    population: Sequence[Candidate], cfg: GeneticConfig, rng: np.random.Generator
) -> tuple[Genotype, str]:
    parent = _tournament(population, cfg.tournament_size, rng)
    child, steps = parent.genotype, []
    if rng.random() < cfg.crossover_probability:
        mate = _tournament(population, cfg.tournament_size, rng)
        name = sorted(CROSSOVERS)[int(rng.integers(len(CROSSOVERS)))]
        child = CROSSOVERS[name](child, mate.genotype, rng)[0]
        steps.append(name)
    if rng.random() < cfg.mutation_probability:
        name = choose_mutation(cfg.mutations, rng)
        child = MUTATIONS[name](child, rng, cfg.space)
        steps.append(name)
    return child, "+".join(steps) or "copy"


def _random_batch(
    config: GeneticConfig | RandomSearchConfig, rng: np.random.Generator, n: int
) -> list[Genotype]:
    """``n`` random genotypes in the config's depth range and space, drawn in order from ``rng``."""
    return [
        random_genotype(rng, config.min_depth, config.max_depth, config.space) for _ in range(n)
    ]


def genetic_search(
    config: GeneticConfig,
    evaluate: Evaluate,
    progress: Callable[[GenerationLog], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> SearchResult:
    """Run the genetic search; ``evaluate(genotypes) -> accuracies`` trains the measured ones."""
    rng = np.random.default_rng(config.seed)
    ev = _Evaluator(config, evaluate, clock, rng)
    initial = _random_batch(config, rng, config.population)
    cands, measured, estimated = ev.run(initial, ["random"] * len(initial), 0)
    population = _rank(_unique(cands))
    entry = ev.log(0, population, measured, estimated)
    if progress:
        progress(entry)
    for generation in range(1, config.generations):
        if ev.out_of_time(config.time_budget):
            break
        k = min(
            int(rng.binomial(config.population, config.remove_worst_probability)),
            config.population - 1,
        )
        fresh = _random_batch(config, rng, k)
        children = [_offspring(population, config, rng) for _ in range(config.population)]
        genotypes = fresh + [g for g, _ in children]
        origins = ["resample"] * k + [o for _, o in children]
        cands, measured, estimated = ev.run(genotypes, origins, generation)
        fresh_c, child_c = cands[:k], cands[k:]
        survivors = _rank(_unique(population + child_c))
        fresh_hashes = {c.genotype.hash for c in fresh_c}
        survivors = [c for c in survivors if c.genotype.hash not in fresh_hashes][
            : config.population - k
        ]
        population = _rank(_unique(survivors + fresh_c))
        entry = ev.log(generation, population, measured, estimated)
        if progress:
            progress(entry)
    ev.result.population = population
    return ev.result


def random_search(
    config: RandomSearchConfig,
    evaluate: Evaluate,
    progress: Callable[[GenerationLog], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> SearchResult:
    """Baseline: measure ``samples_per_generation`` random genotypes per generation."""
    rng = np.random.default_rng(config.seed)
    ev = _Evaluator(None, evaluate, clock, rng)
    population: list[Candidate] = []
    for generation in range(config.generations):
        if generation and ev.out_of_time(config.time_budget):
            break
        batch = _random_batch(config, rng, config.samples_per_generation)
        cands, measured, estimated = ev.run(batch, ["random"] * len(batch), generation)
        population = _rank(_unique(population + cands))
        entry = ev.log(generation, population, measured, estimated)
        if progress:
            progress(entry)
    ev.result.population = population
    return ev.result
