"""Reber grammar data: the paper's classification dataset, generated or read from CSV.

This module gathers the public names; the parts live in :mod:`~hiddenstruct.data.reber_grammar`
(automaton, membership), :mod:`~hiddenstruct.data.reber_negatives` (negative protocols),
:mod:`~hiddenstruct.data.reber_dataset` (dataset, checksum, train/test overlap) and
:mod:`~hiddenstruct.data.reber_csv` (reading user CSVs).

The dataset of the paper (§4.2) has 25 000 strings, half in the grammar, split 75 %/25 %
(18 750 / 6 250). How negatives are made is a protocol (``negatives=``: mix, hard, random,
authors); every negative is verified out of the grammar. Example::

    >>> is_reber("BPTVPXTTVVE"), is_reber("BTTVPXTVPSE")
    (True, False)
    >>> ds = generate_reber_dataset(n=100, seed=0)
    >>> ds.count("train"), ds.count("test")
    (75, 25)
"""

from __future__ import annotations

import numbers
import random
from collections.abc import Sequence
from pathlib import Path

from hiddenstruct.data.automaton import DistinctSampler
from hiddenstruct.data.reber_csv import read_reber_csv, read_reber_csvs
from hiddenstruct.data.reber_dataset import (
    KINDS,
    SPLITS,
    ReberDataset,
    ReberRow,
    content_checksum,
    train_test_overlap,
)
from hiddenstruct.data.reber_grammar import (
    ALPHABET,
    EMBEDDED_REBER_AUTOMATON,
    END_SYMBOL,
    FINAL_STATE,
    GRAMMARS,
    INTERIOR_SYMBOLS,
    REBER_AUTOMATON,
    START_STATE,
    START_SYMBOL,
    TRANSITIONS,
    Grammar,
    get_grammar,
    is_embedded_reber,
    is_reber,
    sample_embedded_reber,
    sample_reber,
)
from hiddenstruct.data.reber_negatives import (
    NEGATIVE_PROTOCOLS,
    NegativeRequest,
    corrupt_once,
    draw_distinct,
    get_protocol,
    one_substitution_from,
)
from hiddenstruct.errors import UsageError

__all__ = [
    "ALPHABET", "EMBEDDED_REBER_AUTOMATON", "END_SYMBOL", "FINAL_STATE", "GRAMMARS",
    "INTERIOR_SYMBOLS", "KINDS", "NEGATIVE_PROTOCOLS", "REBER_AUTOMATON", "SPLITS",
    "START_STATE", "START_SYMBOL", "TRANSITIONS", "Grammar", "NegativeRequest", "ReberDataset", "ReberRow",
    "content_checksum", "corrupt_once", "generate_reber_dataset", "get_grammar", "get_protocol",
    "is_embedded_reber", "is_reber", "load_reber_data", "one_substitution_from", "read_reber_csv",
    "read_reber_csvs", "sample_embedded_reber", "sample_reber", "train_test_overlap",
]  # fmt: skip


def _sample_length_ok(grammar: Grammar, rng: random.Random, max_length: int | None) -> str:
    for _ in range(10_000):
        string = grammar.sample(rng)
        if max_length is None or len(string) <= max_length:
            return string
    raise UsageError(f"max_length={max_length} is too small for the {grammar.name} grammar")


def _split_sizes(n: int, n_pos: int, test_fraction: float) -> tuple[int, int]:
    n_test = round(n * test_fraction)
    test_pos = min(n_pos, round(n_test * n_pos / n)) if n else 0
    test_neg = min(n - n_pos, n_test - test_pos)
    return test_pos, test_neg


def generate_reber_dataset(
    n: int = 25_000,
    seed: int = 0,
    test_fraction: float = 0.25,
    hard_fraction: float = 0.5,
    *,
    grammar: str = "reber",
    unique: bool | None = True,
    max_length: int | None = None,
    negatives: str = "mix",
) -> ReberDataset:
    """Balanced classes, negatives by protocol, an exactly sized stratified split.

    ``n - n // 2`` strings are in the grammar and ``n // 2`` are not (exactly 12 500 / 12 500
    for n = 25 000); ``negatives`` names the protocol (:data:`NEGATIVE_PROTOCOLS`; ``mix``
    uses ``hard_fraction`` one-symbol edits, the rest random strings). ``round(n ·
    test_fraction)`` rows go to the test split with the same class balance. With
    ``unique=True`` (the default) every string occurs once, so no test string is in train;
    ``False`` draws i.i.d. (short strings repeat: 46-60 % of test strings are then also in
    train); ``None`` takes the protocol's default (``authors``: unique, others: i.i.d.; the
    default before 0.2.0, which stored trials without a ``unique`` key still use).
    """
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n <= 0:
        raise UsageError(f"n must be a positive integer, got {n!r}")
    n = int(n)
    for name, value in (("test_fraction", test_fraction), ("hard_fraction", hard_fraction)):
        if not 0.0 <= value <= 1.0:
            raise UsageError(f"{name} must be in [0, 1], got {value}")
    if max_length is not None and max_length < 5:
        raise UsageError(
            f"max_length must be at least 5 (the shortest string BTXSE), got {max_length}"
        )
    spec = get_grammar(grammar)
    protocol = get_protocol(negatives, spec.name)
    unique = protocol.unique if unique is None else bool(unique)
    rng = random.Random(seed)
    n_neg = n // 2
    n_pos = n - n_neg
    seen: set[str] | None = set() if unique else None
    positives = _positives(spec, n_pos, rng, seen, max_length, protocol.min_length)
    bases = positives or [_sample_length_ok(spec, rng, max_length)]
    request = NegativeRequest(spec, bases, n_neg, rng, seen, max_length, hard_fraction)
    pairs = protocol.make(request)

    examples_pos = [(s, 1, "positive") for s in positives]
    examples_neg = [(s, 0, kind) for s, kind in pairs]
    rng.shuffle(examples_pos)
    rng.shuffle(examples_neg)
    test_pos, test_neg = _split_sizes(n, n_pos, test_fraction)
    test = examples_pos[:test_pos] + examples_neg[:test_neg]
    train = examples_pos[test_pos:] + examples_neg[test_neg:]
    rng.shuffle(train)
    rng.shuffle(test)
    rows = [(*ex, "train") for ex in train] + [(*ex, "test") for ex in test]
    return ReberDataset(
        strings=tuple(r[0] for r in rows),
        labels=tuple(r[1] for r in rows),
        splits=tuple(r[3] for r in rows),
        kinds=tuple(r[2] for r in rows),
    )


def _positives(
    spec: Grammar,
    count: int,
    rng: random.Random,
    seen: set[str] | None,
    max_length: int | None,
    min_length: int | None,
) -> list[str]:
    """``count`` in-grammar walks; distinct (sampled without replacement) when ``seen`` is a set."""
    if seen is not None:  # sampling without replacement: exact, no rejection loop
        sampler = DistinctSampler(spec.automaton, max_length)
        draw = sampler.draw
    else:

        def draw(rng: random.Random) -> str:
            return _sample_length_ok(spec, rng, max_length)

    def accept() -> str | None:
        string = draw(rng)
        return None if min_length is not None and len(string) < min_length else string

    return draw_distinct(count, accept, seen, "in-grammar")


def load_reber_data(
    csv: Sequence[str | Path] = (),
    *,
    n: int = 25_000,
    seed: int = 0,
    test_fraction: float = 0.25,
    hard_fraction: float = 0.5,
    negatives: str = "mix",
    unique: bool | None = True,
) -> ReberDataset:
    """The data of a Reber experiment: read from ``csv`` (one file with a split column, or
    train and test) when given — the generation settings are then unused — else generated."""
    if csv:
        return read_reber_csvs(list(csv))
    return generate_reber_dataset(
        n, seed, test_fraction, hard_fraction, negatives=negatives, unique=unique
    )
