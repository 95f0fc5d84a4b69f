"""Reber grammar: membership, generated data, balance, split sizes, determinism, torch batches."""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from hiddenstruct.data import reber
from hiddenstruct.data.reber import (
    ALPHABET,
    TRANSITIONS,
    corrupt_once,
    generate_reber_dataset,
    get_grammar,
    is_embedded_reber,
    is_reber,
    read_reber_csv,
    sample_reber,
)
from hiddenstruct.data.reber_torch import (
    PAD_CODE,
    ReberTorchDataset,
    load_reber_splits,
    reber_collate,
)
from hiddenstruct.errors import DataError, UsageError


def _reference_accepts(string: str) -> bool:
    """Independent check: enumerate automaton paths with a regex built from the transitions."""
    import re

    # State elimination by hand: from state 3 the rest is R3 = (T*VPX)* T*V (V | PS);
    # from state 1 it is T S* X (S | X R3) | P R3.
    r3 = "(T*VPX)*T*V(V|PS)"
    pattern = f"B(TS*X(S|X{r3})|P{r3})E"
    return isinstance(string, str) and re.fullmatch(pattern, string) is not None


def test_known_strings() -> None:
    assert is_reber("BPTVPXTTVVE")
    assert not is_reber("BTTVPXTVPSE")
    assert is_reber("BTXSE") and is_reber("BPVVE") and is_reber("BTSSSXSE")
    for bad in ("", "BE", "BTXS", "TXSE", "BTXSEE", "BBTXSE", "btxse", "BTXXE", None, 5):
        assert not is_reber(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=14))
def test_is_reber_matches_independent_regex(string: str) -> None:
    assert is_reber(string) == _reference_accepts(string)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_corrupted_and_valid_strings_match_regex(seed: int) -> None:
    rng = random.Random(seed)
    valid = sample_reber(rng)
    corrupted = corrupt_once(valid, rng)
    assert is_reber(valid) and _reference_accepts(valid)
    assert is_reber(corrupted) == _reference_accepts(corrupted)


def test_is_reber_exhaustive_up_to_seven_interior_symbols() -> None:
    from itertools import product

    checked = accepted = 0
    for length in range(8):
        for interior in product("TPSXV", repeat=length):
            string = "B" + "".join(interior) + "E"
            assert is_reber(string) == _reference_accepts(string), string
            checked += 1
            accepted += is_reber(string)
    assert checked == sum(5**k for k in range(8))
    assert accepted > 10  # the grammar has short members (BTXSE, BPVVE, ...)


def test_walk_only_uses_automaton_edges() -> None:
    rng = random.Random(1)
    edges = {(a, sym) for a, out in TRANSITIONS.items() for sym, _ in out}
    for _ in range(500):
        s = sample_reber(rng)
        assert is_reber(s) and _reference_accepts(s)
        assert {sym for _, sym in edges} >= set(s[1:-1])


def test_corruptions_are_one_edit_away() -> None:
    rng = random.Random(3)
    for _ in range(300):
        s = sample_reber(rng)
        c = corrupt_once(s, rng)
        assert c[0] == "B" and c[-1] == "E"
        assert abs(len(c) - len(s)) <= 1 and c != s


@pytest.mark.parametrize(
    "n,test_fraction", [(25_000, 0.25), (101, 0.25), (10, 0.3), (7, 0.0), (8, 1.0)]
)
def test_balance_and_split_sizes(n: int, test_fraction: float) -> None:
    ds = generate_reber_dataset(n=n, seed=5, test_fraction=test_fraction)
    assert len(ds) == n
    assert ds.count(label=0) == n // 2 and ds.count(label=1) == n - n // 2
    n_test = round(n * test_fraction)
    assert ds.count("test") == n_test and ds.count("train") == n - n_test
    # stratified: class balance of the test split within one example of the global one
    assert abs(ds.count("test", 1) - n_test * (n - n // 2) / n) <= 1


def test_paper_protocol_exact_sizes_and_labels() -> None:
    ds = generate_reber_dataset(n=25_000, seed=0)
    assert ds.count(label=1) == 12_500 and ds.count(label=0) == 12_500
    assert ds.count("train") == 18_750 and ds.count("test") == 6_250
    assert ds.count("test", 1) == 3_125 and ds.count("train", 1) == 9_375
    for string, label, kind in zip(ds.strings, ds.labels, ds.kinds, strict=True):
        assert is_reber(string) == bool(label)
        assert (kind == "positive") == bool(label)
    assert ds.kinds.count("hard") == 6_250 and ds.kinds.count("random") == 6_250


@pytest.mark.parametrize("hard_fraction", [0.0, 0.3, 1.0])
def test_hard_fraction_mix(hard_fraction: float) -> None:
    ds = generate_reber_dataset(n=400, seed=2, hard_fraction=hard_fraction)
    assert ds.kinds.count("hard") == round(200 * hard_fraction)
    assert ds.kinds.count("random") == 200 - round(200 * hard_fraction)
    assert not any(is_reber(s) for s, y in zip(ds.strings, ds.labels, strict=True) if y == 0)


def test_same_seed_same_bytes_different_seed_differs(tmp_path) -> None:
    a = generate_reber_dataset(n=500, seed=11).to_csv(tmp_path / "a.csv")
    b = generate_reber_dataset(n=500, seed=11).to_csv(tmp_path / "b.csv")
    c = generate_reber_dataset(n=500, seed=12).to_csv(tmp_path / "c.csv")
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert a.read_text().splitlines()[0] == "string,valid,split"


def test_csv_round_trip_and_validation(tmp_path) -> None:
    ds = generate_reber_dataset(n=60, seed=4)
    path = ds.to_csv(tmp_path / "r.csv")
    back = read_reber_csv(path)
    assert back.strings == ds.strings and back.labels == ds.labels and back.splits == ds.splits
    lines = path.read_text().splitlines()
    first_positive = next(
        i for i, line in enumerate(lines) if line.endswith(",1,train") or line.endswith(",1,test")
    )
    lines[first_positive] = lines[first_positive].replace(",1,", ",0,")
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="bad.csv"):
        read_reber_csv(tmp_path / "bad.csv")
    with pytest.raises(DataError, match="not found"):
        read_reber_csv(tmp_path / "missing.csv")


def test_unique_by_default_has_no_leakage_iid_reports_it() -> None:
    unique = generate_reber_dataset(n=2_000, seed=1)  # unique is the default (since 0.2.0)
    assert len(set(unique.strings)) == 2_000 and unique.leakage() == 0.0
    assert unique == generate_reber_dataset(n=2_000, seed=1, unique=True)
    iid = generate_reber_dataset(n=2_000, seed=1, unique=False)
    train = set(iid.split("train")[0])
    test = iid.split("test")[0]
    assert iid.leakage() == pytest.approx(sum(s in train for s in test) / len(test))
    assert iid.leakage() > 0.3  # short strings repeat in i.i.d. draws
    # None: the protocol's choice, the default before 0.2.0 (mix: i.i.d.)
    assert generate_reber_dataset(n=2_000, seed=1, unique=None) == iid


def test_max_length_respected_and_impossible_requests_fail() -> None:
    ds = generate_reber_dataset(n=300, seed=0, max_length=9, unique=False)  # 27 such strings
    assert max(map(len, ds.strings)) <= 9
    with pytest.raises(UsageError):
        generate_reber_dataset(n=100, seed=0, unique=True, max_length=6)  # only 5 such strings


@pytest.mark.parametrize(
    "bad",
    [
        dict(n=0),
        dict(n=-3),
        dict(n=2.5),
        dict(n=True),
        dict(test_fraction=1.5),
        dict(hard_fraction=-0.1),
        dict(grammar="nope"),
        dict(max_length=3),
    ],
)
def test_bad_arguments(bad: dict) -> None:
    kwargs = dict(n=10, seed=0) | bad
    with pytest.raises(UsageError):
        generate_reber_dataset(**kwargs)


def test_numpy_integer_n_is_accepted() -> None:
    import numpy as np

    assert len(generate_reber_dataset(n=np.int64(12), seed=0)) == 12


def test_grammar_registry_lists_names() -> None:
    with pytest.raises(UsageError, match="embedded_reber"):
        get_grammar("unknown")


def test_embedded_grammar() -> None:
    assert is_embedded_reber("BTBTXSETE") and not is_embedded_reber("BTBTXSEPE")
    ds = generate_reber_dataset(n=300, seed=9, grammar="embedded_reber")
    for s, y in zip(ds.strings, ds.labels, strict=True):
        assert is_embedded_reber(s) == bool(y)


def test_generation_is_fast() -> None:
    import time

    start = time.process_time()  # CPU time: the machine may be shared
    generate_reber_dataset(n=25_000, seed=3)  # unique strings, the default (about 0.6 s)
    assert time.process_time() - start < 3.0


def test_torch_dataset_and_collate() -> None:
    train, test = load_reber_splits(n=200, seed=0)
    assert len(train) == 150 and len(test) == 50
    loader = DataLoader(train, batch_size=16, shuffle=False, collate_fn=reber_collate)
    seen = 0
    for padded, lengths, labels in loader:
        assert padded.dtype == lengths.dtype == labels.dtype == torch.long
        assert padded.shape == (len(labels), int(lengths.max()))
        strings = train.strings[seen : seen + len(labels)]
        for row, length, label, string in zip(padded, lengths, labels, strings, strict=True):
            decoded = bytes(row[:length].tolist()).decode("ascii")
            assert decoded == string
            assert bool((row[length:] == PAD_CODE).all())
            assert is_reber(decoded) == bool(label)
        seen += len(labels)
    assert seen == len(train)


def test_collate_matches_reference_padding() -> None:
    from torch.nn.utils.rnn import pad_sequence

    rng = random.Random(0)
    items = [
        (torch.tensor([rng.randrange(1, 128) for _ in range(rng.randint(1, 9))]), rng.randint(0, 1))
        for _ in range(17)
    ]
    padded, lengths, labels = reber_collate(items)
    assert torch.equal(
        padded, pad_sequence([c for c, _ in items], batch_first=True, padding_value=PAD_CODE)
    )
    assert lengths.tolist() == [len(c) for c, _ in items]
    assert labels.tolist() == [y for _, y in items] and labels.dtype == torch.long
    single = reber_collate([(torch.tensor([66, 69]), torch.tensor(1))])
    assert single[0].shape == (1, 2) and single[2].tolist() == [1]


def test_torch_dataset_rejects_bad_input() -> None:
    with pytest.raises(DataError):
        ReberTorchDataset(["BTXSE"], [1, 0])
    with pytest.raises(DataError):
        ReberTorchDataset(["BTXSé"], [0])
    with pytest.raises(DataError):
        reber_collate([])


def test_module_namespace() -> None:
    assert reber.is_reber is is_reber
