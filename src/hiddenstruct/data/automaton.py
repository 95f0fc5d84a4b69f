"""Deterministic finite automata that generate strings by random walks.

A walk starts in ``start`` and takes one of the current state's outgoing edges uniformly at
random, emitting its symbol, until it reaches a state without outgoing edges (accepting).
The probability of a string is therefore the product of ``1 / out-degree`` along its path.
:class:`DistinctSampler` draws from the same distribution *without replacement*, exactly and
without rejection loops, by tracking the probability mass already taken under each prefix.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from hiddenstruct.errors import UsageError

State = Hashable


@dataclass(frozen=True)
class Automaton:
    """A DFA: ``transitions[state] = ((symbol, next_state), ...)``; states without edges accept."""

    name: str
    transitions: Mapping[State, tuple[tuple[str, State], ...]]
    start: State
    _next: dict = field(init=False, repr=False, compare=False)
    min_completion: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        states = set(self.transitions) | {t for out in self.transitions.values() for _, t in out}
        step = {(s, sym): t for s, out in self.transitions.items() for sym, t in out}
        object.__setattr__(self, "_next", step)
        # fewest symbols from each state to an accepting state (Bellman-Ford style relaxation)
        dist = {s: 0 if not self.transitions.get(s) else None for s in states}
        changed = True
        while changed:
            changed = False
            for s, out in self.transitions.items():
                options = [dist[t] + 1 for _, t in out if dist[t] is not None]
                if options and (dist[s] is None or min(options) < dist[s]):
                    dist[s], changed = min(options), True
        object.__setattr__(self, "min_completion", dist)

    def accepts(self, string: str) -> bool:
        """True when reading ``string`` from ``start`` ends in an accepting state."""
        if not isinstance(string, str):
            return False
        state = self.start
        for symbol in string:
            key = (state, symbol)
            if key not in self._next:
                return False
            state = self._next[key]
        return not self.transitions.get(state)

    def sample(self, rng: random.Random) -> str:
        """One string by a uniform random walk (deterministic steps consume no randomness)."""
        symbols = []
        state = self.start
        while edges := self.transitions.get(state):
            symbol, state = edges[0] if len(edges) == 1 else edges[int(rng.random() * len(edges))]
            symbols.append(symbol)
        return "".join(symbols)


class DistinctSampler:
    """Random-walk strings without replacement, optionally at most ``max_length`` long.

    Equivalent to "walk, reject strings already drawn or too long" but each draw costs
    O(length²): the mass taken under each prefix is recorded and the walk follows the
    remaining mass. Raises UsageError when no distinct string is left.
    """

    def __init__(self, automaton: Automaton, max_length: int | None = None) -> None:
        self.automaton = automaton
        self.max_length = max_length
        self._taken: dict[str, float] = {}  # prefix -> probability mass removed under it
        self._dead: set[str] = set()  # prefixes with nothing left to draw
        self.drawn = 0

    def _remove(self, prefix: str, mass: float) -> None:
        for i in range(len(prefix) + 1):
            key = prefix[:i]
            self._taken[key] = self._taken.get(key, 0.0) + mass

    def _kill(self, prefix: str, mass: float) -> None:
        self._dead.add(prefix)
        self._remove(prefix, max(mass - self._taken.get(prefix, 0.0), 0.0))

    def draw(self, rng: random.Random) -> str:
        """The next distinct string."""
        a = self.automaton
        while True:
            if "" in self._dead:
                limit = f" of length <= {self.max_length}" if self.max_length else ""
                raise UsageError(
                    f"only {self.drawn} distinct {a.name} strings{limit} exist and all are drawn"
                )
            prefix, state, mass = "", a.start, 1.0
            while edges := a.transitions.get(state):
                child_mass = mass / len(edges)
                options = []
                for symbol, target in edges:
                    child = prefix + symbol
                    if child in self._dead:
                        continue
                    too_long = (
                        self.max_length is not None
                        and len(child) + a.min_completion[target] > self.max_length
                    )
                    if too_long:
                        self._kill(child, child_mass)
                        continue
                    options.append(
                        (max(child_mass - self._taken.get(child, 0.0), 0.0), child, target)
                    )
                if not options:
                    self._kill(prefix, mass)
                    break
                total = sum(m for m, _, _ in options)
                if total > 0:
                    threshold, chosen = rng.random() * total, options[-1]
                    for option in options:
                        threshold -= option[0]
                        if threshold < 0:
                            chosen = option
                            break
                else:  # only float dust left: any live branch
                    chosen = options[int(rng.random() * len(options))]
                _, prefix, state = chosen
                mass = child_mass
            else:
                self._kill(prefix, mass)
                self.drawn += 1
                return prefix
