"""Random-walk automata and sampling without replacement."""

from __future__ import annotations

import random
from itertools import product

import pytest

from hiddenstruct.data.automaton import Automaton, DistinctSampler
from hiddenstruct.data.reber import (
    EMBEDDED_REBER_AUTOMATON,
    REBER_AUTOMATON,
    is_embedded_reber,
    is_reber,
)
from hiddenstruct.errors import UsageError


def _all_reber(max_length: int) -> set[str]:
    """Brute force: every framed string over TPSXV up to ``max_length`` that is_reber accepts."""
    return {
        s
        for k in range(max_length - 1)
        for interior in product("TPSXV", repeat=k)
        if is_reber(s := "B" + "".join(interior) + "E")
    }


def test_min_completion() -> None:
    assert REBER_AUTOMATON.min_completion[0] == 5  # BTXSE
    assert EMBEDDED_REBER_AUTOMATON.min_completion["start"] == 9  # BTBTXSETE


def test_embedded_matches_its_definition() -> None:
    rng = random.Random(0)
    for _ in range(300):
        s = EMBEDDED_REBER_AUTOMATON.sample(rng)
        assert s[0] == "B" and s[-1] == "E" and s[1] == s[-2] and s[1] in "TP" and is_reber(s[2:-2])
    assert is_embedded_reber("BPBPVVEPE") and not is_embedded_reber("BPBPVVETE")
    assert not is_embedded_reber("BTXSE") and not is_embedded_reber(None)


def test_distinct_sampler_exhausts_exactly_the_short_strings() -> None:
    expected = _all_reber(10)
    sampler = DistinctSampler(REBER_AUTOMATON, max_length=10)
    rng = random.Random(4)
    drawn = [sampler.draw(rng) for _ in range(len(expected))]
    assert len(set(drawn)) == len(drawn) and set(drawn) == expected
    with pytest.raises(UsageError, match=f"only {len(expected)} distinct"):
        sampler.draw(rng)


def test_distinct_sampler_unbounded_gives_distinct_members() -> None:
    sampler = DistinctSampler(REBER_AUTOMATON)
    rng = random.Random(1)
    drawn = [sampler.draw(rng) for _ in range(3000)]
    assert len(set(drawn)) == 3000 and all(map(is_reber, drawn))
    # the five shortest strings are the likeliest and are taken early
    assert {"BTXSE", "BPVVE"} <= set(drawn[:50])


def test_first_draw_follows_the_walk_distribution() -> None:
    # P(BTXSE) = P(BPVVE) = 1/8 under the walk; the first distinct draw has the same law
    trials = 2000
    hits = sum(
        DistinctSampler(REBER_AUTOMATON).draw(random.Random(seed)) == "BTXSE"
        for seed in range(trials)
    )
    expected, sd = trials / 8, (trials * (1 / 8) * (7 / 8)) ** 0.5
    assert abs(hits - expected) < 4 * sd


def test_walk_distribution() -> None:
    rng = random.Random(7)
    draws = [REBER_AUTOMATON.sample(rng) for _ in range(4000)]
    share = draws.count("BTXSE") / len(draws)
    assert abs(share - 1 / 8) < 4 * ((1 / 8) * (7 / 8) / len(draws)) ** 0.5


def test_tiny_automaton() -> None:
    a = Automaton("ab", {0: (("a", 1), ("b", 2)), 1: (("c", 3),)}, start=0)
    assert a.accepts("ac") and a.accepts("b") and not a.accepts("a") and not a.accepts("bc")
    sampler = DistinctSampler(a)
    rng = random.Random(0)
    assert {sampler.draw(rng), sampler.draw(rng)} == {"ac", "b"}
    with pytest.raises(UsageError):
        sampler.draw(rng)
