"""The Reber grammar as an automaton: symbols, membership tests and walk samplers.

The automaton (paper §4.2, docs/data.md) is ``B → 1``; ``1: T→2, P→3``; ``2: S→2, X→4``; ``3: T→3, V→5``;
``4: X→3, S→6``; ``5: P→4, V→6``; ``6: E``. A string is *in the grammar* when it is ``B``,
a walk of the automaton from state 1 to state 6, then ``E``::

    >>> is_reber("BPTVPXTTVVE"), is_reber("BTTVPXTVPSE")
    (True, False)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hiddenstruct.data.automaton import Automaton
from hiddenstruct.errors import lookup

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
    return lookup(GRAMMARS, name, "grammar")
