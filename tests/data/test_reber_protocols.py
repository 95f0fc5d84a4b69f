"""Negative protocols: 0.1.0 output unchanged, the authors' composition, uniqueness, overlap."""

from __future__ import annotations

import hashlib
import math
import statistics
from collections import Counter

import pytest

from hiddenstruct.data.reber import (
    ALPHABET,
    NEGATIVE_PROTOCOLS,
    generate_reber_dataset,
    get_grammar,
    is_reber,
    one_substitution_from,
    train_test_overlap,
)
from hiddenstruct.data.reber_negatives import FOREIGN_LETTERS, foreign_automaton
from hiddenstruct.errors import UsageError

# SHA-256 of the CSV text written by hiddenstruct 0.1.0 (commit 674784d) for these arguments:
# the default protocol must keep producing the same data, or old trials would change meaning.
# unique=None is 0.1.0's default (i.i.d. draws for mix); since 0.2.0 the default is unique.
RELEASED = [
    (
        dict(n=300, seed=3, unique=None),
        "379ad83131200d44807d6eb3984ba83ec450e0ac6c5a930d54fc44ddc60d0d18",
    ),
    (
        dict(n=300, seed=3, unique=True),
        "28fb1cc3da9d82c4178359de3886a1a99e09d03dd771b265e11ca5ed7ff18406",
    ),
    (
        dict(n=301, seed=5, hard_fraction=0.2, test_fraction=0.3, unique=None),
        "d3bc56d04ac80a66b9253fafd9dc790cf3b6eb5d27ecf7a45634e209216354c2",
    ),
    (
        dict(n=200, seed=1, grammar="embedded_reber", max_length=20, unique=None),
        "2aa228782a103c55773ada5c58da40ac5b5e92e7909a3fd7a32e9e41975c7f1d",
    ),
]


@pytest.mark.parametrize(("kwargs", "digest"), RELEASED)
def test_default_protocol_reproduces_release_bytes(kwargs, digest) -> None:
    text = generate_reber_dataset(**kwargs).to_csv_text()
    assert hashlib.sha256(text.encode()).hexdigest() == digest
    assert generate_reber_dataset(**kwargs, negatives="mix").to_csv_text() == text


@pytest.fixture(scope="module")
def authors():
    return generate_reber_dataset(n=6000, seed=2, negatives="authors")


def _negatives(ds):
    return [s for s, y in zip(ds.strings, ds.labels, strict=True) if not y]


def _positives(ds):
    return [s for s, y in zip(ds.strings, ds.labels, strict=True) if y]


def test_authors_sizes_labels_and_uniqueness(authors) -> None:
    assert authors.count(label=1) == 3000 and authors.count(label=0) == 3000
    assert authors.count("train") == 4500 and authors.count("test") == 1500
    assert len(set(authors.strings)) == len(authors)
    assert all(is_reber(s) == bool(y) for s, y in zip(authors.strings, authors.labels, strict=True))
    overlap = train_test_overlap(authors)
    assert overlap["test_in_train"] == 0.0 and overlap["shared_strings"] == 0
    assert overlap["duplicate_rows"] == 0 and overlap["conflicting_labels"] == 0


def test_authors_composition(authors) -> None:
    negatives = _negatives(authors)
    assert all(s[0] == "B" and s[-1] == "E" for s in negatives)
    in_alphabet = [s for s in negatives if set(s) <= set(ALPHABET)]
    foreign = [s for s in negatives if not set(s) <= set(ALPHABET)]
    assert len(in_alphabet) / len(negatives) == pytest.approx(0.44, abs=0.005)
    reber = get_grammar("reber")
    one_away = sum(one_substitution_from(s, reber) for s in in_alphabet) / len(in_alphabet)
    assert 0.72 <= one_away <= 0.80  # measured, not by construction: random ones may be one away
    assert all(set(s[1:-1]) <= set(FOREIGN_LETTERS) for s in foreign)
    assert "G" not in "".join(authors.strings)
    kinds = Counter(authors.kinds)
    assert kinds["foreign"] == len(foreign) and kinds["positive"] == 3000


def test_authors_length_profile(authors) -> None:
    positives = [len(s) for s in _positives(authors)]
    negatives = [len(s) for s in _negatives(authors)]
    assert min(positives) >= 11  # the authors' shortest positive
    assert statistics.fmean(negatives) < statistics.fmean(positives) - 2


def test_authors_at_paper_size_matches_measured_profile() -> None:
    ds = generate_reber_dataset(n=25_000, seed=0, negatives="authors")
    positives = [len(s) for s in _positives(ds)]
    negatives = [len(s) for s in _negatives(ds)]
    assert statistics.fmean(positives) == pytest.approx(23.6, abs=0.5)  # authors: 23.6
    assert statistics.fmean(negatives) == pytest.approx(18.7, abs=0.5)  # authors: 18.7
    assert min(positives) == 11 and 45 <= max(positives) <= 60  # authors: 11–53
    assert len(set(ds.strings)) == 25_000


def test_foreign_automaton_is_reber_shaped() -> None:
    automaton = foreign_automaton("ACDFH")  # T→A, P→C, S→D, X→F, V→H
    assert automaton.accepts("BCAHCFAHHE")  # BPTVPXTVVE renamed
    assert not automaton.accepts("BPTVPXTVVE")


def test_hard_and_random_protocols() -> None:
    hard = generate_reber_dataset(n=400, seed=1, negatives="hard")
    assert set(Counter(hard.kinds)) == {"positive", "hard"}
    assert (
        hard.to_csv_text() == generate_reber_dataset(n=400, seed=1, hard_fraction=1.0).to_csv_text()
    )
    rand = generate_reber_dataset(n=400, seed=1, negatives="random")
    assert set(Counter(rand.kinds)) == {"positive", "random"}
    assert all(set(s) <= set(ALPHABET) for s in rand.strings)


@pytest.mark.parametrize("negatives", sorted(NEGATIVE_PROTOCOLS))
def test_unique_option_every_protocol(negatives) -> None:
    ds = generate_reber_dataset(n=1000, seed=4, negatives=negatives, unique=True)
    assert len(set(ds.strings)) == 1000
    assert train_test_overlap(ds)["test_in_train"] == 0.0
    assert generate_reber_dataset(n=1000, seed=4, negatives=negatives, unique=True) == ds


def test_authors_can_be_drawn_iid_and_overlap_is_then_measured() -> None:
    ds = generate_reber_dataset(n=2000, seed=0, negatives="authors", unique=False)
    overlap = train_test_overlap(ds)
    test, train = ds.split("test")[0], set(ds.split("train")[0])
    assert overlap["test_in_train"] == pytest.approx(sum(s in train for s in test) / len(test))


def test_overlap_of_empty_test_split_is_nan() -> None:
    ds = generate_reber_dataset(n=40, seed=0, test_fraction=0.0)
    assert math.isnan(train_test_overlap(ds)["test_in_train"])


def test_protocol_errors() -> None:
    with pytest.raises(UsageError, match="authors"):
        generate_reber_dataset(n=100, negatives="nope")
    with pytest.raises(UsageError, match="reber grammar only"):
        generate_reber_dataset(n=100, negatives="authors", grammar="embedded_reber")
