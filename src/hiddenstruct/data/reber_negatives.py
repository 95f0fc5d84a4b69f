"""Negative (out-of-grammar) strings for the Reber dataset: one registry of protocols.

* ``mix`` (the 0.1.0 default, our choice): ``hard_fraction`` one-symbol edits of positives,
  the rest random strings ``B…E`` over ``TPSXV``; lengths follow the positives'.
* ``hard``: only one-symbol edits (``mix`` at ``hard_fraction = 1``).
* ``random``: only random strings (``mix`` at ``hard_fraction = 0``).
* ``authors``: the composition measured in the authors' published dataset
  (sparsity-experiments-2021, ``rnn/dataset/``; measured in docs/data.md): 44 % in-alphabet violations —
  three quarters one substitution away from a valid string, the rest random ``TPSXV``
  strings — and 56 % strings of Reber-shaped automata over other letters, framed ``B…E``.

Every negative is verified out of the grammar. A protocol maps a :class:`NegativeRequest` to
``(string, kind)`` pairs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from hiddenstruct.data.automaton import Automaton, DistinctSampler
from hiddenstruct.data.reber_grammar import (
    ALPHABET,
    END_SYMBOL,
    INTERIOR_SYMBOLS,
    START_SYMBOL,
    Grammar,
    _reber_transitions,
)
from hiddenstruct.errors import UsageError, lookup

#: Letters of the foreign automata: A–Z without the frame B, E and without G, which does
#: not occur in the authors' data (docs/data.md lists "A, C, D, F, H–Z").
FOREIGN_LETTERS = "ACDFHIJKLMNOPQRSTUVWXYZ"
AUTHORS_IN_ALPHABET_SHARE = 0.44  # authors' data (measured, docs/data.md)
AUTHORS_SUBSTITUTION_SHARE = 0.75  # of the in-alphabet ones; authors' data (measured, docs/data.md)
AUTHORS_MIN_LENGTH = 11  # shortest positive in the authors' data (docs/data.md)
#: Distinct strings drawn per foreign automaton. Our choice: 400 reproduces the authors'
#: shorter negatives (mean 18.7 vs 23.6), since fewer draws per automaton use fewer long walks.
AUTHORS_STRINGS_PER_AUTOMATON = 400

Draw = Callable[[], "str | None"]
Pairs = list[tuple[str, str]]


@dataclass(frozen=True)
class NegativeRequest:
    """What a protocol is asked for: ``count`` negatives for these positives (their length cue)."""

    grammar: Grammar
    positives: list[str]
    count: int
    rng: random.Random
    seen: set[str] | None  # a set: strings must be new to it (unique data); None: i.i.d.
    max_length: int | None
    hard_fraction: float


def draw_distinct(count: int, draw: Draw, seen: set[str] | None, what: str) -> list[str]:
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


def corrupt_once(string: str, rng: random.Random) -> str:
    """Substitute, insert or delete one interior symbol (B and E are kept)."""
    operation = rng.randrange(3)
    interior = len(string) - 2
    if operation == 0:  # substitution by a different interior symbol
        return substitute_once(string, rng)
    if operation == 1:  # insertion before any interior position or before E
        position = 1 + rng.randrange(interior + 1)
        return string[:position] + rng.choice(INTERIOR_SYMBOLS) + string[position:]
    position = 1 + rng.randrange(interior)  # deletion
    return string[:position] + string[position + 1 :]


def substitute_once(string: str, rng: random.Random) -> str:
    """Replace one interior symbol by a different one of ``TPSXV``."""
    position = 1 + rng.randrange(len(string) - 2)
    choices = INTERIOR_SYMBOLS.replace(string[position], "")
    return string[:position] + rng.choice(choices) + string[position + 1 :]


def one_substitution_from(string: str, grammar: Grammar) -> bool:
    """True when replacing one interior symbol by one of ``TPSXV`` gives a string of ``grammar``."""
    for position in range(1, len(string) - 1):
        for symbol in INTERIOR_SYMBOLS:
            if symbol != string[position]:
                if grammar.accepts(string[:position] + symbol + string[position + 1 :]):
                    return True
    return False


def _rejecting(grammar: Grammar, max_length: int | None, make: Draw) -> Draw:
    def draw() -> str | None:
        candidate = make()
        if (
            candidate is None
            or grammar.accepts(candidate)
            or (max_length is not None and len(candidate) > max_length)
        ):
            return None
        return candidate

    return draw


def _random_string(length: int, rng: random.Random) -> str:
    return START_SYMBOL + "".join(rng.choices(INTERIOR_SYMBOLS, k=length - 2)) + END_SYMBOL


def mix_negatives(request: NegativeRequest) -> Pairs:
    """``round(hard_fraction · count)`` one-symbol edits of positives, the rest random strings."""
    n_hard = round(request.hard_fraction * request.count)
    return _edits_and_random(request, (n_hard, request.count - n_hard), corrupt_once)


def _edits_and_random(
    request: NegativeRequest, counts: tuple[int, int], edit: Callable[[str, random.Random], str]
) -> Pairs:
    """``counts[0]`` edits of positives (kind ``hard``), ``counts[1]`` random strings (``random``)."""
    # Negatives derive from the positives (edited, or just their lengths) so that the length
    # distributions match and length alone is no cue, with or without de-duplication.
    grammar, positives, rng, seen = request.grammar, request.positives, request.rng, request.seen
    hard = draw_distinct(
        counts[0],
        _rejecting(grammar, request.max_length, lambda: edit(rng.choice(positives), rng)),
        seen,
        "hard negative",
    )
    rand = draw_distinct(
        counts[1],
        _rejecting(grammar, None, lambda: _random_string(len(rng.choice(positives)), rng)),
        seen,
        "random negative",
    )
    return [(s, "hard") for s in hard] + [(s, "random") for s in rand]


def foreign_automaton(letters: str) -> Automaton:
    """The Reber automaton with its interior symbols ``TPSXV`` renamed to ``letters`` (B, E kept)."""
    rename = dict(zip(INTERIOR_SYMBOLS, letters, strict=True))
    table = {
        state: tuple((rename.get(symbol, symbol), target) for symbol, target in edges)
        for state, edges in _reber_transitions().items()
    }
    return Automaton(f"reber[{letters}]", table, start=0)


def _foreign_letters(rng: random.Random) -> str:
    while True:  # at least one letter outside TPSXV, so no string can be in the grammar
        letters = "".join(rng.sample(FOREIGN_LETTERS, len(INTERIOR_SYMBOLS)))
        if set(letters) - set(INTERIOR_SYMBOLS):
            return letters


def _foreign_only(string: str) -> str | None:
    """None for a walk that happens to use only Reber letters (it counts as in-alphabet)."""
    return None if set(string) <= set(ALPHABET) else string


def authors_negatives(request: NegativeRequest) -> Pairs:
    """The authors' composition: in-alphabet violations, then foreign-automaton strings."""
    n_in = round(AUTHORS_IN_ALPHABET_SHARE * request.count)
    n_sub = round(AUTHORS_SUBSTITUTION_SHARE * n_in)
    pairs = _edits_and_random(request, (n_sub, n_in - n_sub), substitute_once)
    rng, n_foreign = request.rng, request.count - n_in
    for index in range(math.ceil(n_foreign / AUTHORS_STRINGS_PER_AUTOMATON)):
        take = min(AUTHORS_STRINGS_PER_AUTOMATON, n_foreign - index * AUTHORS_STRINGS_PER_AUTOMATON)
        sampler = DistinctSampler(foreign_automaton(_foreign_letters(rng)), request.max_length)
        draw = _rejecting(request.grammar, None, lambda s=sampler: _foreign_only(s.draw(rng)))
        foreign = draw_distinct(take, draw, request.seen, "foreign")
        pairs += [(s, "foreign") for s in foreign]
    return pairs


def _fixed_fraction(fraction: float) -> Callable[[NegativeRequest], Pairs]:
    def protocol(request: NegativeRequest) -> Pairs:
        return mix_negatives(replace(request, hard_fraction=fraction))

    return protocol


@dataclass(frozen=True)
class NegativeProtocol:
    """How negatives are made; ``source`` says where the protocol comes from."""

    name: str
    make: Callable[[NegativeRequest], Pairs]
    description: str
    source: str
    unique: bool = False  # default of generate_reber_dataset(unique=None)
    min_length: int | None = None  # shortest positive
    grammars: tuple[str, ...] = ("reber", "embedded_reber")


NEGATIVE_PROTOCOLS: dict[str, NegativeProtocol] = {
    "mix": NegativeProtocol(
        "mix", mix_negatives, "hard_fraction one-symbol edits + random B…E strings", "our choice"
    ),
    "hard": NegativeProtocol("hard", _fixed_fraction(1.0), "one-symbol edits", "our choice"),
    "random": NegativeProtocol("random", _fixed_fraction(0.0), "random B…E strings", "our choice"),
    "authors": NegativeProtocol(
        "authors",
        authors_negatives,
        "in-alphabet violations + foreign-letter Reber automata, all unique",
        "authors' published dataset (composition measured, docs/data.md)",
        unique=True,
        min_length=AUTHORS_MIN_LENGTH,
        grammars=("reber",),
    ),
}


def get_protocol(name: str, grammar: str = "reber") -> NegativeProtocol:
    """The protocol registered under ``name``; UsageError lists the valid names otherwise."""
    protocol = lookup(NEGATIVE_PROTOCOLS, name, "negatives protocol")
    if grammar not in protocol.grammars:
        raise UsageError(
            f"negatives={name!r} is defined for the {', '.join(protocol.grammars)} grammar only, "
            f"not {grammar!r}"
        )
    return protocol
