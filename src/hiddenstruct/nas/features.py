"""The 56 structural features of a genotype used for architectural performance prediction.

Three groups (paper §4.4, docs/nas.md); statistics are population mean / std (ddof = 0), and
any statistic over an empty set is 0, so every value is finite:

* **layer mass** (2): for every vertex except the input, its output channel count times the
  sum of the output channel counts of its predecessors (channel counts per the phenotype's
  shape rules, :mod:`hiddenstruct.nas.shapes`): ``layer_mass_mean``, ``layer_mass_std``.
* **path lengths** (36 = 6 operation kinds × 3 path kinds × 2 statistics): for every vertex
  of a kind in ``conv`` (any kernel size), ``max_pool``, ``avg_pool``, ``sum``, ``concat``,
  ``skip``: the shortest and the longest path length (edges) from the input, and the expected
  length of a random walk from the input that reaches the vertex (at each step the walk
  follows an outgoing edge chosen uniformly; the expectation is conditioned on reaching the
  vertex). Names: ``path_{shortest|longest|random_walk}_{kind}_{mean|std}``.
* **graph properties** (18): ``depth`` (layers), ``vertices``, ``edges`` and, on the
  undirected graph with networkx semantics, ``{edge_betweenness (normalised), eccentricity,
  closeness, average_neighbor_degree, degree}_{mean|std|max}``.
"""

from __future__ import annotations

from collections import deque

import networkx as nx
import numpy as np

from hiddenstruct.nas.genotype import Genotype
from hiddenstruct.nas.ops import FEATURE_GROUPS, OPS
from hiddenstruct.nas.shapes import DEFAULT_MAX_CHANNELS, infer_shapes

PATH_KINDS: tuple[str, ...] = ("shortest", "longest", "random_walk")
GRAPH_PROPERTIES: tuple[str, ...] = (
    "edge_betweenness",
    "eccentricity",
    "closeness",
    "average_neighbor_degree",
    "degree",
)

FEATURE_NAMES: tuple[str, ...] = (
    ("layer_mass_mean", "layer_mass_std")
    + tuple(
        f"path_{kind}_{group}_{stat}"
        for group in FEATURE_GROUPS
        for kind in PATH_KINDS
        for stat in ("mean", "std")
    )
    + ("depth", "vertices", "edges")
    + tuple(f"{prop}_{stat}" for prop in GRAPH_PROPERTIES for stat in ("mean", "std", "max"))
)
assert len(FEATURE_NAMES) == 56


def _stats(values: list[float], names: tuple[str, ...] = ("mean", "std")) -> list[float]:
    if not values:
        return [0.0] * len(names)
    arr = np.asarray(values, dtype=float)
    funcs = {"mean": np.mean, "std": np.std, "max": np.max}
    return [float(funcs[name](arr)) for name in names]


def layer_masses(
    genotype: Genotype, input_channels: int = 3, max_channels: int = DEFAULT_MAX_CHANNELS
) -> list[int]:
    """Layer mass of every vertex except the input, in id order."""
    shapes = infer_shapes(genotype, (input_channels, 32, 32), max_channels)
    return [
        shapes[v].channels * sum(shapes[u].channels for u in genotype.predecessors[v])
        for v in range(len(genotype.vertices))
        if v != genotype.input
    ]


def shortest_path_lengths(genotype: Genotype) -> list[int]:
    """Edges on the shortest path from the input to every vertex."""
    dist = [-1] * len(genotype.vertices)
    dist[genotype.input] = 0
    queue = deque([genotype.input])
    while queue:
        u = queue.popleft()
        for w in genotype.successors[u]:
            if dist[w] < 0:
                dist[w] = dist[u] + 1
                queue.append(w)
    return dist


def longest_path_lengths(genotype: Genotype) -> list[int]:
    """Edges on the longest path from the input to every vertex (= its layer index)."""
    return list(genotype.layer_index)


def random_walk_lengths(genotype: Genotype) -> list[float]:
    """Expected length of a uniform random walk from the input, given that it reaches the vertex."""
    n = len(genotype.vertices)
    reach = np.zeros(n)  # probability that the walk visits v
    moment = np.zeros(n)  # Σ_k k · P(walk is at v after k steps)
    reach[genotype.input] = 1.0
    for u in genotype.topological_order:
        succ = genotype.successors[u]
        for w in succ:
            reach[w] += reach[u] / len(succ)
            moment[w] += (moment[u] + reach[u]) / len(succ)
    return [float(moment[v] / reach[v]) if reach[v] > 0 else 0.0 for v in range(n)]


def _graph_properties(genotype: Genotype) -> list[float]:
    U = genotype.to_networkx().to_undirected()
    values = {
        "edge_betweenness": list(nx.edge_betweenness_centrality(U, normalized=True).values()),
        "eccentricity": list(nx.eccentricity(U).values()),
        "closeness": list(nx.closeness_centrality(U).values()),
        "average_neighbor_degree": list(nx.average_neighbor_degree(U).values()),
        "degree": [d for _, d in U.degree()],
    }
    out = [float(genotype.depth), float(U.number_of_nodes()), float(U.number_of_edges())]
    for prop in GRAPH_PROPERTIES:
        out += _stats(values[prop], ("mean", "std", "max"))
    return out


def feature_vector(
    genotype: Genotype, input_channels: int = 3, max_channels: int = DEFAULT_MAX_CHANNELS
) -> np.ndarray:
    """The 56 features in :data:`FEATURE_NAMES` order (float64, all finite)."""
    values = _stats([float(m) for m in layer_masses(genotype, input_channels, max_channels)])
    paths = {
        "shortest": shortest_path_lengths(genotype),
        "longest": longest_path_lengths(genotype),
        "random_walk": random_walk_lengths(genotype),
    }
    for group in FEATURE_GROUPS:
        members = [v for v, x in enumerate(genotype.vertices) if OPS[x.op].feature_group == group]
        for kind in PATH_KINDS:
            values += _stats([float(paths[kind][v]) for v in members])
    values += _graph_properties(genotype)
    return np.asarray(values, dtype=np.float64)


def features(
    genotype: Genotype, input_channels: int = 3, max_channels: int = DEFAULT_MAX_CHANNELS
) -> dict[str, float]:
    """The 56 features as a ``{name: value}`` dict."""
    return dict(
        zip(
            FEATURE_NAMES,
            feature_vector(genotype, input_channels, max_channels).tolist(),
            strict=True,
        )
    )
