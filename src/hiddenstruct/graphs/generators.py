"""Seeded random-graph generators used as structural priors (paper §4.3).

Every generator takes an explicit ``seed``; the same seed gives the same graph. The sampling
rule (:func:`sample_prior_graphs`): n uniform in [10, 50]; Barabási–Albert with m = n // 10;
connected Watts–Strogatz with k = n // 5 and rewiring probability p = 1 — 0.1.0's choices
(the paper's text names the two families and 100 graphs each, no sizes; the authors' published graphs show
m = n // 10 sources for the BA graphs behind the paper).

Barabási–Albert comes in two variants (``seed_graph``): ``classic`` — the process of
Barabási & Albert as networkx built it before 2.6 (m isolated seed vertices, the first new
vertex attaches to all m), so under ascending-label orientation the graph has exactly m
source vertices — and ``star`` — ``nx.barabasi_albert_graph`` since networkx 2.6, grown from
a star on m + 1 vertices, which has exactly one source. Both have (n − m)·m edges.

Example::

    >>> graphs = sample_prior_graphs("ba", count=3, seed=7)
    >>> [G.graph["family"] for G in graphs]
    ['barabasi_albert', 'barabasi_albert', 'barabasi_albert']
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx

from hiddenstruct.errors import GraphError, check_choice, unknown_name

#: A family builds one graph with n vertices from a seed: ``family(n, seed) -> nx.Graph``.
GraphFamily = Callable[..., nx.Graph]


def _check_int(name: str, value: int, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraphError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise GraphError(f"{name} must be {bound}, got {value}")


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= float(value) <= 1.0:
        raise GraphError(f"{name} must be a probability in [0, 1], got {value!r}")


def watts_strogatz(n: int, k: int, p: float, seed: int, tries: int = 100) -> nx.Graph:
    """Connected Watts–Strogatz small-world graph (``nx.connected_watts_strogatz_graph``).

    ``k`` is the ring's neighbour count (each vertex joins its k // 2 neighbours on each
    side), ``p`` the rewiring probability; the generator retries up to ``tries`` times
    until the graph is connected and raises :class:`GraphError` otherwise.
    """
    _check_int("n", n, 3)
    _check_int("k", k, 2, n - 1)
    _check_probability("p", p)
    _check_int("tries", tries, 1)
    try:
        G = nx.connected_watts_strogatz_graph(n, k, p, tries=tries, seed=seed)
    except nx.NetworkXError as err:
        raise GraphError(f"watts_strogatz(n={n}, k={k}, p={p}): {err}; try a larger k") from err
    G.graph.update(family="watts_strogatz", n=n, k=k, p=float(p), seed=seed)
    return G


BA_SEED_GRAPHS = ("classic", "star")


def barabasi_albert(n: int, m: int, seed: int, *, seed_graph: str = "star") -> nx.Graph:
    """Barabási–Albert preferential-attachment graph with (n − m)·m edges, connected.

    ``seed_graph="star"`` (default, as in 0.1.0) is ``nx.barabasi_albert_graph``: growth
    from a star on m + 1 vertices. ``"classic"`` is :func:`classic_barabasi_albert`.
    """
    _check_int("n", n, 2)
    _check_int("m", m, 1, n - 1)
    if seed_graph == "classic":
        G = classic_barabasi_albert(n, m, seed)
    elif seed_graph == "star":
        G = nx.barabasi_albert_graph(n, m, seed=seed)
    else:
        raise GraphError(unknown_name("seed_graph", seed_graph, BA_SEED_GRAPHS))
    G.graph.update(family="barabasi_albert", n=n, m=m, seed=seed, seed_graph=seed_graph)
    return G


def classic_barabasi_albert(n: int, m: int, seed: int) -> nx.Graph:
    """The classic BA process: m isolated seeds; vertex m joins all of them; then each new
    vertex joins m distinct earlier vertices chosen with probability proportional to degree.

    Vertices are 0..n−1 in order of arrival, so under ascending-label orientation exactly the
    m seeds are sources; there are (n − m)·m edges. Seeded by ``random.Random(seed)``.
    """
    _check_int("n", n, 2)
    _check_int("m", m, 1, n - 1)
    rng = random.Random(seed)
    G = nx.empty_graph(m)
    ends: list[int] = []  # every edge end once: a uniform pick is a degree-weighted vertex
    targets = list(range(m))
    for vertex in range(m, n):
        G.add_edges_from((vertex, t) for t in targets)
        ends += targets
        ends += [vertex] * m
        chosen: set[int] = set()
        while len(chosen) < m:
            chosen.add(rng.choice(ends))
        targets = sorted(chosen)
    return G


def erdos_renyi(
    n: int, p: float, seed: int, *, connected: bool = False, tries: int = 100
) -> nx.Graph:
    """Erdős–Rényi G(n, p) graph (``nx.gnp_random_graph``).

    With ``connected=True`` graphs are redrawn (seeds derived from ``seed``) up to ``tries``
    times until one is connected; :class:`GraphError` if none is.
    """
    _check_int("n", n, 1)
    _check_probability("p", p)
    _check_int("tries", tries, 1)
    rng = random.Random(seed)
    for _ in range(tries):
        G = nx.gnp_random_graph(n, p, seed=rng.randrange(2**32))
        if not connected or nx.is_connected(G):
            G.graph.update(family="erdos_renyi", n=n, p=float(p), seed=seed)
            return G
    raise GraphError(
        f"erdos_renyi(n={n}, p={p}): no connected graph in {tries} tries; increase p "
        f"(connectivity needs p above about ln(n)/n = {_log_threshold(n):.3f})"
    )


def _log_threshold(n: int) -> float:
    return math.log(n) / n if n > 1 else 0.0


# --- The paper's sampling rules, one function per family ------------------------------------


def paper_watts_strogatz(n: int, seed: int) -> nx.Graph:
    """Connected WS with k = n // 5 (at least 2) and p = 1, as in the paper."""
    return watts_strogatz(n, max(2, n // 5), 1.0, seed)


def paper_barabasi_albert(n: int, seed: int, *, seed_graph: str = "star") -> nx.Graph:
    """BA with m = n // 10 (at least 1), as in the paper; ``seed_graph`` as in :func:`barabasi_albert`."""
    return barabasi_albert(n, max(1, n // 10), seed, seed_graph=seed_graph)


def paper_erdos_renyi(n: int, seed: int) -> nx.Graph:
    """Connected ER with p = 0.2, about the density of the paper's WS graphs (k/(n−1) ≈ 0.2).

    The paper does not use ER; this rule is our choice, documented in docs/priors-and-prediction.md.
    """
    return erdos_renyi(n, 0.2, seed, connected=True)


@dataclass(frozen=True)
class PriorFamily:
    """A named graph family with its sampling rule ``build(n, seed, **options)``."""

    name: str
    build: GraphFamily
    description: str
    options: tuple[str, ...] = ()  # keyword options build accepts (e.g. seed_graph for BA)

    def make(self, n: int, seed: int, **options: Any) -> nx.Graph:
        """``build(n, seed, **options)``; options the family does not know raise GraphError."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            valid = ", ".join(self.options) or "none"
            raise GraphError(f"family {self.name!r} has no option {unknown}; valid: {valid}")
        return self.build(n, seed, **options)


PRIOR_FAMILIES: Mapping[str, PriorFamily] = {
    "watts_strogatz": PriorFamily(
        "watts_strogatz", paper_watts_strogatz, "connected WS, k = n // 5, p = 1"
    ),
    "barabasi_albert": PriorFamily(
        "barabasi_albert", paper_barabasi_albert, "BA, m = n // 10", options=("seed_graph",)
    ),
    "erdos_renyi": PriorFamily("erdos_renyi", paper_erdos_renyi, "connected G(n, p = 0.2)"),
}

FAMILY_ALIASES: Mapping[str, str] = {
    "ws": "watts_strogatz",
    "ba": "barabasi_albert",
    "er": "erdos_renyi",
}


def get_family(name: str) -> PriorFamily:
    """Look up a prior family by name or alias (ws, ba, er); unknown names list the valid ones."""
    check_choice(name, [*PRIOR_FAMILIES, *FAMILY_ALIASES], "graph family", error=GraphError)
    return PRIOR_FAMILIES[FAMILY_ALIASES.get(name, name)]


def sample_prior_graphs(
    family: str | GraphFamily,
    count: int,
    n_range: tuple[int, int] = (10, 50),
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
) -> list[nx.Graph]:
    """Sample ``count`` graphs of a family with n drawn uniformly from ``n_range`` (inclusive).

    ``family`` is a registered name (see :data:`PRIOR_FAMILIES`, aliases ws/ba/er) or any
    callable ``(n, seed) -> nx.Graph``, so user-provided generators pass through unchanged.
    Each graph gets its own seed drawn from ``seed``; ``G.graph`` records ``family``, ``n``,
    ``seed`` and ``index``. Same arguments → identical graphs. ``options`` go to the family's
    builder (e.g. ``{"seed_graph": "classic"}`` for Barabási–Albert).
    """
    _check_int("count", count, 0)
    low, high = n_range
    _check_int("n_range[0]", low, 1)
    _check_int("n_range[1]", high, low)
    options = dict(options or {})
    if callable(family):
        name = getattr(family, "__name__", "custom")

        def build(n: int, graph_seed: int) -> nx.Graph:
            return family(n, graph_seed, **options)
    else:
        spec = get_family(family)
        name = spec.name

        def build(n: int, graph_seed: int) -> nx.Graph:
            return spec.make(n, graph_seed, **options)

    rng = random.Random(seed)
    graphs = []
    for index in range(count):
        n = rng.randint(low, high)
        graph_seed = rng.randrange(2**32)
        G = build(n, graph_seed)
        if not isinstance(G, nx.Graph):
            raise GraphError(
                f"family {name!r} returned {type(G).__name__}, expected a networkx graph"
            )
        G.graph.setdefault("family", name)
        G.graph.update(n=G.number_of_nodes(), seed=graph_seed, index=index)
        graphs.append(G)
    return graphs
