"""Genetic neural architecture search over labelled DAGs with architectural performance prediction.

Genotypes (:mod:`.genotype`) are validated labelled DAGs compiled into CNNs by
:func:`compile` (:mod:`.phenotype`, shape rules in :mod:`.shapes`); :mod:`.operators` mutates,
crosses and samples them; :mod:`.features` computes 56 structural features that
:mod:`.predictor` regresses onto accuracy; :mod:`.search` runs the genetic and random searches;
:mod:`.evaluate` trains a candidate as a stored trial and :mod:`.analysis` tabulates results.
"""

from __future__ import annotations

from hiddenstruct.nas.features import FEATURE_NAMES, feature_vector, features
from hiddenstruct.nas.genotype import Genotype, Vertex
from hiddenstruct.nas.operators import (
    CROSSOVERS,
    DEFAULT_SPACE,
    MUTATIONS,
    SearchSpace,
    crossover_bridge,
    crossover_longest_path,
    crossover_matching_layers,
    mutate_insert,
    mutate_remap,
    random_genotype,
)
from hiddenstruct.nas.ops import INTERIOR_OPS, OPS
from hiddenstruct.nas.phenotype import GenotypeNet, compile
from hiddenstruct.nas.predictor import REGRESSORS, PerformancePredictor
from hiddenstruct.nas.search import (
    Candidate,
    GenerationLog,
    GeneticConfig,
    RandomSearchConfig,
    SearchResult,
    genetic_search,
    random_search,
)

__all__ = [
    "CROSSOVERS",
    "DEFAULT_SPACE",
    "FEATURE_NAMES",
    "INTERIOR_OPS",
    "MUTATIONS",
    "OPS",
    "REGRESSORS",
    "Candidate",
    "GenerationLog",
    "GeneticConfig",
    "Genotype",
    "GenotypeNet",
    "PerformancePredictor",
    "RandomSearchConfig",
    "SearchResult",
    "SearchSpace",
    "Vertex",
    "compile",
    "crossover_bridge",
    "crossover_longest_path",
    "crossover_matching_layers",
    "feature_vector",
    "features",
    "genetic_search",
    "mutate_insert",
    "mutate_remap",
    "random_genotype",
    "random_search",
]
