"""Reber grammar: automaton, seeded generators and the paper's classification dataset.

The automaton (DESIGN §5) is ``B → 1``; ``1: T→2, P→3``; ``2: S→2, X→4``; ``3: T→3, V→5``;
``4: X→3, S→6``; ``5: P→4, V→6``; ``6: E``. A string is *in the grammar* when it is ``B``,
a walk of the automaton from state 1 to state 6, then ``E``.

The dataset of the paper (§4.2) has 25 000 strings, half in the grammar, split 75 %/25 %
(18 750 / 6 250). Negatives mix *hard* ones (a valid string with one interior symbol
substituted, inserted or deleted) and *random* ones (``B`` + uniform random interior + ``E``,
with lengths drawn like the positives', so length is no cue); every negative is verified
out of the grammar. Example::

    >>> is_reber("BPTVPXTTVVE"), is_reber("BTTVPXTVPSE")
    (True, False)
    >>> ds = generate_reber_dataset(n=100, seed=0)
    >>> ds.count("train"), ds.count("test")
    (75, 25)
"""

from __future__ import annotations

import csv
import io
import numbers
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from hiddenstruct.data._files import atomic_write_text
from hiddenstruct.data.automaton import Automaton, DistinctSampler
from hiddenstruct.errors import DataError, UsageError

START_SYMBOL = "B"
END_SYMBOL = "E"
INTERIOR_SYMBOLS = "TPSXV"
ALPHABET = START_SYMBOL + INTERIOR_SYMBOLS + END_SYMBOL

# state -> ((symbol, next_state), ...); state 1 follows B, state 6 must be followed by E.
TRANSITIONS: dict[int, tuple[tuple[str, int], ...]] = {
    1: (("T", 2), ("P", 3)),
    2: (("S", 2), ("X", 4)),
    3: (("T", 3), ("V", 5)),
    4: (("X", 3), ("S", 6)),
    5: (("P", 4), ("V", 6)),
}
START_STATE = 1
FINAL_STATE = 6

SPLITS = ("train", "test")
KINDS = ("positive", "hard", "random", "negative")  # "negative": read back from a CSV


def _reber_transitions(tag: object = None) -> dict:
    """The whole automaton, B and E included: state 0 --B--> 1 ... 6 --E--> 7 (accepting).

    With a ``tag`` the states are ``(tag, k)``, so that copies can be embedded in a larger one.
    """

    def name(state: int) -> object:
        return state if tag is None else (tag, state)

    table = {0: ((START_SYMBOL, 1),), **TRANSITIONS, FINAL_STATE: ((END_SYMBOL, 7),)}
    return {name(s): tuple((sym, name(t)) for sym, t in out) for s, out in table.items()}


def _embedded_transitions() -> dict:
    """B, then c in {T, P}, then a Reber string, then the same c, then E."""
    table: dict = {"start": ((START_SYMBOL, "outer"),), "outer": (("T", ("T", 0)), ("P", ("P", 0)))}
    for outer in "TP":
        table.update(_reber_transitions(outer))
        table[(outer, 7)] = ((outer, "closing"),)
    table["closing"] = ((END_SYMBOL, "accept"),)
    return table


REBER_AUTOMATON = Automaton("reber", _reber_transitions(), start=0)
EMBEDDED_REBER_AUTOMATON = Automaton("embedded_reber", _embedded_transitions(), start="start")


def is_reber(string: str) -> bool:
    """True when ``string`` is in the Reber grammar (e.g. ``BPTVPXTTVVE``)."""
    return REBER_AUTOMATON.accepts(string)


def is_embedded_reber(string: str) -> bool:
    """True for the embedded Reber grammar: ``B`` + c + Reber string + c + ``E``, c ∈ {T, P}."""
    return EMBEDDED_REBER_AUTOMATON.accepts(string)


def sample_reber(rng: random.Random) -> str:
    """One in-grammar string: a random walk taking each outgoing edge with probability 1/2."""
    return REBER_AUTOMATON.sample(rng)


def sample_embedded_reber(rng: random.Random) -> str:
    """One embedded-Reber string: the same T or P right after B and right before E."""
    return EMBEDDED_REBER_AUTOMATON.sample(rng)


@dataclass(frozen=True)
class Grammar:
    """A grammar given by its automaton: membership test, walk sampler, description."""

    name: str
    automaton: Automaton
    description: str

    def accepts(self, string: str) -> bool:
        """True when ``string`` is in the grammar."""
        return self.automaton.accepts(string)

    def sample(self, rng: random.Random) -> str:
        """One member string by a uniform random walk."""
        return self.automaton.sample(rng)


GRAMMARS: dict[str, Grammar] = {
    "reber": Grammar("reber", REBER_AUTOMATON, "the Reber grammar of the paper"),
    "embedded_reber": Grammar(
        "embedded_reber", EMBEDDED_REBER_AUTOMATON, "embedded Reber (long-range dependency)"
    ),
}


def get_grammar(name: str) -> Grammar:
    """The grammar registered under ``name``; a UsageError lists the valid names otherwise."""
    try:
        return GRAMMARS[name]
    except KeyError:
        raise UsageError(f"unknown grammar {name!r}; choose from {sorted(GRAMMARS)}") from None


def _sample_length_ok(grammar: Grammar, rng: random.Random, max_length: int | None) -> str:
    for _ in range(10_000):
        string = grammar.sample(rng)
        if max_length is None or len(string) <= max_length:
            return string
    raise UsageError(f"max_length={max_length} is too small for the {grammar.name} grammar")


def corrupt_once(string: str, rng: random.Random) -> str:
    """Substitute, insert or delete one interior symbol (B and E are kept)."""
    operation = rng.randrange(3)
    interior = len(string) - 2
    if operation == 0:  # substitution by a different interior symbol
        position = 1 + rng.randrange(interior)
        choices = INTERIOR_SYMBOLS.replace(string[position], "")
        return string[:position] + rng.choice(choices) + string[position + 1 :]
    if operation == 1:  # insertion before any interior position or before E
        position = 1 + rng.randrange(interior + 1)
        return string[:position] + rng.choice(INTERIOR_SYMBOLS) + string[position:]
    position = 1 + rng.randrange(interior)  # deletion
    return string[:position] + string[position + 1 :]


def _hard_negative(
    grammar: Grammar, base: str, rng: random.Random, max_length: int | None
) -> str | None:
    candidate = corrupt_once(base, rng)
    if grammar.accepts(candidate) or (max_length is not None and len(candidate) > max_length):
        return None
    return candidate


def _random_negative(grammar: Grammar, length: int, rng: random.Random) -> str | None:
    interior = "".join(rng.choices(INTERIOR_SYMBOLS, k=length - 2))
    candidate = START_SYMBOL + interior + END_SYMBOL
    return None if grammar.accepts(candidate) else candidate


def _draw(
    count: int, draw: Callable[[], str | None], seen: set[str] | None, what: str
) -> list[str]:
    """``count`` strings from ``draw`` (None = rejected), distinct from ``seen`` when given."""
    out: list[str] = []
    attempts = 0
    limit = 200 * count + 10_000
    while len(out) < count:
        attempts += 1
        if attempts > limit:
            raise UsageError(
                f"could not draw {count} distinct {what} strings (got {len(out)}); "
                "lower n, raise max_length or allow duplicates"
            )
        string = draw()
        if string is None:
            continue
        if seen is not None:
            if string in seen:
                continue
            seen.add(string)
        out.append(string)
    return out


class ReberRow(NamedTuple):
    """One CSV row: the string, 1/0 in-grammar label and ``train``/``test``."""

    string: str
    valid: int
    split: str


@dataclass(frozen=True)
class ReberDataset:
    """Strings with labels (1 = in grammar), split names and kinds (positive/hard/random)."""

    strings: tuple[str, ...]
    labels: tuple[int, ...]
    splits: tuple[str, ...]
    kinds: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.strings)

    def rows(self) -> Iterator[ReberRow]:
        """The rows in file order."""
        return (ReberRow(*row) for row in zip(self.strings, self.labels, self.splits, strict=True))

    def count(self, split: str | None = None, label: int | None = None) -> int:
        """Number of rows in ``split`` (all when None) with ``label`` (any when None)."""
        return sum(
            1
            for s, y in zip(self.splits, self.labels, strict=True)
            if (split is None or s == split) and (label is None or y == label)
        )

    def split(self, name: str) -> tuple[list[str], list[int]]:
        """The strings and labels of split ``name`` (``train`` or ``test``)."""
        if name not in SPLITS:
            raise UsageError(f"unknown split {name!r}; choose from {list(SPLITS)}")
        pairs = [
            (s, y)
            for s, y, sp in zip(self.strings, self.labels, self.splits, strict=True)
            if sp == name
        ]
        return [s for s, _ in pairs], [y for _, y in pairs]

    def leakage(self) -> float:
        """Fraction of test strings that also occur in the training split (0 with unique=True)."""
        train = {s for s, sp in zip(self.strings, self.splits, strict=True) if sp == "train"}
        test = [s for s, sp in zip(self.strings, self.splits, strict=True) if sp == "test"]
        return sum(s in train for s in test) / len(test) if test else 0.0

    def to_csv_text(self) -> str:
        """The CSV text: header ``string,valid,split`` then one row per string, ``\\n`` endings."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(ReberRow._fields)
        writer.writerows(self.rows())
        return buffer.getvalue()

    def to_csv(self, path: str | Path) -> Path:
        """Write the CSV atomically (temporary file, then rename); returns the path."""
        return atomic_write_text(Path(path), self.to_csv_text())


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
    unique: bool = False,
    max_length: int | None = None,
) -> ReberDataset:
    """The paper's dataset: balanced classes, hard + random negatives, an exactly sized stratified split.

    ``n - n // 2`` strings are in the grammar and ``n // 2`` are not (exactly 12 500 / 12 500
    for n = 25 000); of the negatives ``round(hard_fraction · n//2)`` are one-symbol
    corruptions, the rest random strings. ``round(n · test_fraction)`` rows go to the test
    split with the same class balance. With ``unique=True`` every string occurs once (no
    train/test leakage); by default strings are i.i.d. draws and short ones repeat.
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
    rng = random.Random(seed)
    n_neg = n // 2
    n_pos = n - n_neg
    n_hard = round(hard_fraction * n_neg)
    seen: set[str] | None = set() if unique else None

    if unique:  # sampling without replacement: exact, no rejection loop
        sampler = DistinctSampler(spec.automaton, max_length)
        positives = _draw(n_pos, lambda: sampler.draw(rng), seen, "in-grammar")
    else:
        positives = _draw(
            n_pos, lambda: _sample_length_ok(spec, rng, max_length), seen, "in-grammar"
        )
    # Negatives derive from the positives (corrupted, or just their lengths) so that the length
    # distributions match and length alone is no cue, with or without de-duplication.
    bases = positives or [_sample_length_ok(spec, rng, max_length)]
    hard = _draw(
        n_hard,
        lambda: _hard_negative(spec, rng.choice(bases), rng, max_length),
        seen,
        "hard negative",
    )
    rand = _draw(
        n_neg - n_hard,
        lambda: _random_negative(spec, len(rng.choice(bases)), rng),
        seen,
        "random negative",
    )

    examples_pos = [(s, 1, "positive") for s in positives]
    examples_neg = [(s, 0, "hard") for s in hard] + [(s, 0, "random") for s in rand]
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


def read_reber_csv(path: str | Path, grammar: str = "reber") -> ReberDataset:
    """Read a CSV written by :meth:`ReberDataset.to_csv`; labels are checked against the grammar."""
    path = Path(path)
    spec = get_grammar(grammar)
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise DataError(f"Reber CSV {path} not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read Reber CSV {path}: {err}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header != list(ReberRow._fields):
        raise DataError(f"{path}: expected header {','.join(ReberRow._fields)}, got {header}")
    strings, labels, splits, kinds = [], [], [], []
    for line, row in enumerate(reader, start=2):
        if len(row) != 3 or row[1] not in ("0", "1") or row[2] not in SPLITS:
            raise DataError(f"{path}, line {line}: expected string,0|1,train|test, got {row}")
        valid = int(row[1])
        if valid != spec.accepts(row[0]):
            raise DataError(
                f"{path}, line {line}: {row[0]!r} is labelled {valid} but the grammar says otherwise"
            )
        strings.append(row[0])
        labels.append(valid)
        splits.append(row[2])
        kinds.append("positive" if valid else "negative")
    return ReberDataset(tuple(strings), tuple(labels), tuple(splits), tuple(kinds))
