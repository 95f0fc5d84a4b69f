"""Relational graphs (You, Leskovec, He and Xie, ICML 2020; code: facebookresearch/graph2nn).

A *relational graph* is an undirected graph on ``n`` nodes; a layer's neurons are split into
``n`` groups on its nodes and group ``i`` exchanges messages with group ``j`` only along an
edge or a self-loop. This module holds the graph side: the WS-flex generator
(:func:`ws_flex_graph`), the two measures graph2nn sweeps — clustering coefficient ``C`` and
average path length ``L`` as networkx defines them (:func:`clustering_and_path_length`) —
and a sampler whose graphs cover the (C, L) plane evenly (:func:`sample_graph_set`). The
masks built from a graph are in :mod:`hiddenstruct.nn.relational`.

WS-flex (graph2nn's generalisation of Watts–Strogatz to any average degree ``k``, also
non-integer): ``m = round(k·n/2)`` edges are spread over the nodes of a ring as evenly as
possible (``m mod n`` nodes get ``⌊m/n⌋ + 1`` edges to their next neighbours clockwise, the
others ``⌊m/n⌋``); then every one of those edges is, with probability ``p``, rewired from
its clockwise end to a uniformly drawn node that is neither the node itself nor already a
neighbour (skipped when the node already touches every other node). A disconnected draw is
redrawn from the same random stream (up to ``tries`` times), so the result is connected.

The sampler follows graph2nn's construction of their 52 / 449 / 3 942-graph sets: a large
pool of WS-flex graphs is binned on a regular grid over C ∈ [0, 1] and L ∈ [1, l_max]
(graph2nn: 15 × 15, 45 × 45 and 135 × 135 bins with ``l_max = 4.5`` for 64 nodes) and one
graph is kept per non-empty bin. Our pool: average degrees from ``n/8`` (graph2nn's smallest
for 64 nodes, sparsity 0.125) to ``n − 1`` in ``degree_steps`` steps, rewiring probabilities 0
and ``p_steps`` values log-spaced from 1e-4 to 1, ``pool_seeds`` seeds each; the graph kept in a
bin is a seeded random member (our choice; graph2nn ship their picks as .npy files). The pool
grows with the grid (:func:`pool_size`): 40 degrees × 26 rewiring probabilities × 3 seeds up to
15 bins per axis, and ``⌈resolution / 15⌉`` times as many degrees and probabilities beyond, so
a finer grid has points for its smaller bins (our rule; graph2nn do not publish their pool).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import networkx as nx
import numpy as np
from threadpoolctl import threadpool_limits

from hiddenstruct.errors import GraphError, UsageError

#: graph2nn's bins per axis for their three 64-node sets (52, 449 and 3 942 graphs)
GRAPH2NN_RESOLUTIONS = {52: 15, 449: 45, 3942: 135}
#: graph2nn's upper end of the L axis: 4.5 for 64 nodes, 2.5 for 16 nodes
GRAPH2NN_L_MAX = {64: 4.5, 16: 2.5}


def _check_ws_args(n: int, k: float, p: float) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 3:
        raise UsageError(f"a WS-flex graph needs n >= 3 nodes, got {n!r}")
    if not 2 <= k <= n - 1:
        raise UsageError(f"average degree k must be in [2, n - 1] = [2, {n - 1}], got {k}")
    if not 0 <= p <= 1:
        raise UsageError(f"rewiring probability p must be in [0, 1], got {p}")


def _ws_flex_adjacency(n: int, k: float, p: float, rng: np.random.Generator) -> np.ndarray:
    """One WS-flex draw as an ``n × n`` bool adjacency matrix with a True diagonal."""
    edges = int(round(k * n / 2))
    base, extra = divmod(edges, n)
    counts = np.where(np.arange(n) < extra, base + 1, base)
    sources = np.repeat(np.arange(n), counts)
    offsets = np.concatenate([np.arange(1, c + 1) for c in counts]) if edges else np.zeros(0, int)
    targets = (sources + offsets) % n
    adj = np.eye(n, dtype=bool)
    adj[sources, targets] = adj[targets, sources] = True
    degree = adj.sum(1) - 1
    for i, v in zip(sources.tolist(), targets.tolist(), strict=True):
        if rng.random() >= p or not adj[i, v] or degree[i] >= n - 1:
            continue
        free = np.flatnonzero(~adj[i])
        w = int(free[int(rng.integers(len(free)))])
        adj[i, v] = adj[v, i] = False
        adj[i, w] = adj[w, i] = True
        degree[v] -= 1
        degree[w] += 1
    return adj


def _graph_of(adj: np.ndarray) -> nx.Graph:
    G = nx.Graph()
    G.add_nodes_from(range(len(adj)))
    rows, cols = np.nonzero(np.triu(adj, 1))
    G.add_edges_from(zip(rows.tolist(), cols.tolist(), strict=True))
    return G


def _connected_adjacency(n: int, k: float, p: float, seed: int, tries: int) -> np.ndarray:
    _check_ws_args(n, k, p)
    rng = np.random.default_rng(seed)
    for _ in range(tries):
        adj = _ws_flex_adjacency(n, k, p, rng)
        reached = adj[0].copy()
        while True:
            grown = adj[reached].any(0)
            if (grown == reached).all():
                break
            reached = grown
        if reached.all():
            return adj
    raise GraphError(
        f"no connected WS-flex graph (n={n}, k={k}, p={p}, seed={seed}) in {tries} draws; "
        "raise k or lower p"
    )


def ws_flex_graph(n: int, k: float, p: float, seed: int = 0, tries: int = 100) -> nx.Graph:
    """A connected WS-flex graph: ``n`` nodes, average degree ``k`` (any real in [2, n − 1]),
    rewiring probability ``p``; the same ``seed`` gives the same graph.

    Raises :class:`GraphError` when ``tries`` draws are all disconnected.
    """
    return _graph_of(_connected_adjacency(n, k, p, seed, tries))


def _c_and_l(A: np.ndarray) -> tuple[float, float]:
    """(C, L) of a connected simple graph's 0/1 adjacency matrix, as networkx defines them."""
    A = A.astype(np.float64)  # BLAS products; exact for these small integer counts
    degree = A.sum(1)
    triangles = ((A @ A) * A).sum(1)  # 2 × triangles at each node
    pairs = degree * (degree - 1)
    local = np.divide(triangles, pairs, out=np.zeros(len(A)), where=pairs > 0)
    n = len(A)
    reached = np.eye(n, dtype=bool)
    frontier = reached.copy()
    total, step = 0, 0
    while frontier.any():
        step += 1
        frontier = ((frontier.astype(np.float64) @ A) > 0) & ~reached
        reached |= frontier
        total += step * int(frontier.sum())
    if not reached.all():
        raise GraphError("L is undefined for a disconnected graph")
    return float(local.mean()), total / (n * (n - 1))


def clustering_and_path_length(G: nx.Graph, backend: str = "numpy") -> tuple[float, float]:
    """``(C, L)`` of a connected graph as networkx defines them: ``nx.average_clustering``
    (nodes of degree < 2 count as 0) and ``nx.average_shortest_path_length`` (self-loops
    ignored). ``backend="numpy"`` computes the same numbers from the adjacency matrix, faster
    (tests compare both).
    """
    simple = nx.Graph(G)
    simple.remove_edges_from(list(nx.selfloop_edges(simple)))
    if backend == "networkx":
        return float(nx.average_clustering(simple)), float(nx.average_shortest_path_length(simple))
    if backend != "numpy":
        raise UsageError(f"unknown backend {backend!r}; choose numpy or networkx")
    if len(simple) < 2:
        raise GraphError("L is undefined for a graph with fewer than 2 nodes")
    return _c_and_l(nx.to_numpy_array(simple, nodelist=sorted(simple.nodes), dtype=np.float64))


@dataclass(frozen=True)
class GraphSpec:
    """One WS-flex graph of a set: its generator arguments and its (C, L)."""

    n: int
    k: float
    p: float
    seed: int
    C: float
    L: float

    def graph(self) -> nx.Graph:
        return ws_flex_graph(self.n, self.k, self.p, self.seed)

    def as_dict(self) -> dict:
        return asdict(self)


#: the pool at up to :data:`POOL_BASE_RESOLUTION` bins per axis: (degree_steps, p_steps, pool_seeds)
POOL_BASE = (40, 25, 3)
POOL_BASE_RESOLUTION = 15


def pool_size(resolution: int) -> tuple[int, int, int]:
    """The default ``(degree_steps, p_steps, pool_seeds)`` for a ``resolution``-bin grid:
    :data:`POOL_BASE` up to 15 bins per axis (graph2nn's 52-graph grid), and
    ``⌈resolution / 15⌉`` times the degrees and rewiring probabilities beyond (45 × 45: 27 360
    graphs; 135 × 135: 244 080), the seeds unchanged."""
    factor = max(1, math.ceil(resolution / POOL_BASE_RESOLUTION))
    degree_steps, p_steps, pool_seeds = POOL_BASE
    return degree_steps * factor, p_steps * factor, pool_seeds


def pool_parameters(
    n: int,
    degree_steps: int = POOL_BASE[0],
    p_steps: int = POOL_BASE[1],
    pool_seeds: int = POOL_BASE[2],
) -> list[tuple[float, float, int]]:
    """``(k, p, seed)`` of the sampler's pool (see the module docstring)."""
    k_low = max(2.0, n / 8)
    degrees = np.round(np.linspace(k_low, n - 1, degree_steps), 4)
    ps = np.concatenate(([0.0], np.round(np.logspace(-4, 0, p_steps), 6)))
    return [(float(k), float(p), s) for k in degrees for p in ps for s in range(pool_seeds)]


@lru_cache(maxsize=8)
def _pool(n: int, degree_steps: int, p_steps: int, pool_seeds: int) -> tuple[GraphSpec, ...]:

    out = []
    with threadpool_limits(1):  # tiny products: threads only add overhead
        for k, p, s in pool_parameters(n, degree_steps, p_steps, pool_seeds):
            try:
                adj = _connected_adjacency(n, k, p, s, 100)
            except GraphError:
                continue
            np.fill_diagonal(adj, False)
            C, L = _c_and_l(adj)
            out.append(GraphSpec(n, k, p, s, C, L))
    return tuple(out)


def bin_index(C: float, L: float, resolution: int, l_max: float) -> tuple[int, int] | None:
    """The (C bin, L bin) of a point on the ``resolution`` × ``resolution`` grid over
    C ∈ [0, 1], L ∈ [1, l_max]; ``None`` outside (the top edges belong to the last bin)."""
    if not (0 <= C <= 1 and 1 <= L <= l_max):
        return None
    ci = min(int(C * resolution), resolution - 1)
    li = min(int((L - 1) / (l_max - 1) * resolution), resolution - 1)
    return ci, li


def sample_graph_set(
    n: int = 64,
    resolution: int = 15,
    l_max: float | None = None,
    seed: int = 0,
    degree_steps: int | None = None,
    p_steps: int | None = None,
    pool_seeds: int | None = None,
) -> list[GraphSpec]:
    """One WS-flex graph per non-empty (C, L) bin, sorted by (C bin, L bin).

    ``resolution`` bins per axis (graph2nn: 15 → their 52-graph set, 45 → 449, 135 → 3 942);
    ``l_max`` the top of the L axis (default: graph2nn's 4.5 for 64 nodes, 2.5 for 16,
    otherwise the pool's largest L); ``seed`` picks the member of each bin. The complete
    graph (C = L = 1) is not part of the set: it is the baseline. The pool arguments left
    ``None`` take :func:`pool_size` of ``resolution`` (for 64 nodes about 1 s per 1 000 pool
    graphs on one loaded core: 6 s at 15 × 15, 52 s at 45 × 45, 7 min at 135 × 135; computed
    once per process).
    """
    if resolution < 1:
        raise UsageError(f"resolution must be >= 1 bin per axis, got {resolution}")
    default = pool_size(resolution)
    degree_steps = default[0] if degree_steps is None else degree_steps
    p_steps = default[1] if p_steps is None else p_steps
    pool_seeds = default[2] if pool_seeds is None else pool_seeds
    pool = _pool(n, degree_steps, p_steps, pool_seeds)
    if l_max is None:
        l_max = GRAPH2NN_L_MAX.get(n, max((g.L for g in pool), default=2.0))
    bins: dict[tuple[int, int], list[GraphSpec]] = {}
    for g in pool:
        if g.k >= n - 1:
            continue  # the complete graph is the baseline, not a member of the set
        where = bin_index(g.C, g.L, resolution, l_max)
        if where is not None:
            bins.setdefault(where, []).append(g)
    rng = np.random.default_rng(seed)
    return [bins[key][int(rng.integers(len(bins[key])))] for key in sorted(bins)]


def subsample(specs: list[GraphSpec], count: int, seed: int = 0) -> list[GraphSpec]:
    """``count`` members of ``specs`` drawn without replacement (seeded), in their order;
    all of them when ``count`` is 0 or at least their number."""
    if count <= 0 or count >= len(specs):
        return list(specs)
    keep = np.sort(np.random.default_rng(seed).choice(len(specs), count, replace=False))
    return [specs[i] for i in keep]


def coverage(specs: list[GraphSpec]) -> dict[str, float]:
    """Ranges of C and L over a set (for comparing with graph2nn's published ranges)."""
    C = [g.C for g in specs]
    L = [g.L for g in specs]
    if not specs:
        return {
            "graphs": 0,
            "C_min": math.nan,
            "C_max": math.nan,
            "L_min": math.nan,
            "L_max": math.nan,
        }
    return {
        "graphs": len(specs),
        "C_min": min(C),
        "C_max": max(C),
        "L_min": min(L),
        "L_max": max(L),
    }
