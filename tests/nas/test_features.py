"""The 56 structural features: names, finiteness and hand-checked values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hiddenstruct.nas import (
    FEATURE_NAMES,
    Genotype,
    Vertex,
    feature_vector,
    features,
    random_genotype,
)
from hiddenstruct.nas.features import layer_masses, random_walk_lengths, shortest_path_lengths


def _shortcut() -> Genotype:
    # 0 input -> 1 conv3x3(4) -> 2 max_pool -> 3 sum -> 4 output, plus the shortcut 0 -> 3
    return Genotype(
        (
            Vertex("input"),
            Vertex("conv3x3", 4),
            Vertex("max_pool"),
            Vertex("sum"),
            Vertex("output"),
        ),
        ((0, 1), (1, 2), (2, 3), (0, 3), (3, 4)),
    )


def test_exactly_56_unique_names():
    assert len(FEATURE_NAMES) == 56 == len(set(FEATURE_NAMES))
    assert sum(name.startswith("path_") for name in FEATURE_NAMES) == 36
    assert sum(name.startswith("layer_mass") for name in FEATURE_NAMES) == 2


@pytest.mark.parametrize("seed", range(8))
def test_features_finite_for_random_genotypes(seed):
    g = random_genotype(seed, 3, 20)
    vec = feature_vector(g)
    assert vec.shape == (56,)
    assert np.isfinite(vec).all()


def test_hand_checked_layer_masses():
    # channels: input 3, conv 4, pool keeps 4, sum = max(4, 3) = 4, output 4
    assert layer_masses(_shortcut(), input_channels=3) == [4 * 3, 4 * 4, 4 * (4 + 3), 4 * 4]
    f = features(_shortcut(), input_channels=3)
    assert f["layer_mass_mean"] == pytest.approx(18.0)
    assert f["layer_mass_std"] == pytest.approx(6.0)


def test_hand_checked_path_lengths():
    g = _shortcut()
    assert shortest_path_lengths(g) == [0, 1, 2, 1, 2]
    # from the input the walk takes the shortcut (length 1) or the long way (length 3) with p = 1/2
    assert random_walk_lengths(g)[3] == pytest.approx(2.0)
    f = features(g)
    assert (
        f["path_shortest_sum_mean"],
        f["path_longest_sum_mean"],
        f["path_random_walk_sum_mean"],
    ) == (1.0, 3.0, 2.0)
    assert (f["path_shortest_max_pool_mean"], f["path_longest_max_pool_mean"]) == (2.0, 2.0)
    assert f["path_random_walk_conv_mean"] == pytest.approx(1.0)
    for kind in ("shortest", "longest", "random_walk"):
        assert f[f"path_{kind}_avg_pool_mean"] == 0.0 and f[f"path_{kind}_avg_pool_std"] == 0.0


def test_two_convs_give_a_path_std():
    g = Genotype.chain(["conv3x3", "conv5x5", "skip", "conv7x7"], 2)
    f = features(g)
    # conv vertices at distances 1, 2, 4
    assert f["path_shortest_conv_mean"] == pytest.approx(7 / 3)
    assert f["path_longest_conv_std"] == pytest.approx(np.std([1, 2, 4]))


def test_hand_checked_graph_properties():
    f = features(_shortcut())
    assert (f["depth"], f["vertices"], f["edges"]) == (5.0, 5.0, 5.0)
    # undirected degrees 2, 2, 2, 3, 1
    assert f["degree_mean"] == pytest.approx(2.0)
    assert f["degree_max"] == 3.0
    assert f["degree_std"] == pytest.approx(math.sqrt(0.4))
    # eccentricities 2, 3, 2, 2, 3
    assert f["eccentricity_mean"] == pytest.approx(2.4)
    assert f["eccentricity_max"] == 3.0
