"""Topology distance between two sparse networks of one architecture (NNSTD, Liu et al. 2020).

Liu, Mocanu, Matavalam, Pei, Pechenizkiy: "Topological insights into sparse neural networks",
ECML PKDD 2020 — the *neural network sparse topology distance* (NNSTD). Both networks are
read as graphs (:func:`~hiddenstruct.graphs.to_graph`: every neuron a vertex, every live
weight an edge, inputs ``("in", i)`` and outputs ``("out", j)`` included). Layer by layer,
from the first layer after the inputs to the outputs:

1. every neuron ``i`` of ``a`` and ``j`` of ``b`` is described by the set of its inputs,
   ``S_a(i)`` and ``S_b(j)``, with ``b``'s earlier neurons renamed to the ``a`` neurons they
   were matched to (inputs are never renamed: they are the same features in both);
2. two neurons differ by the normalised edit distance of their input sets,
   ``d(i, j) = |S_a(i) △ S_b(j)| / |S_a(i) ∪ S_b(j)|`` (0 for two empty sets): 0 for the
   same inputs, 1 for disjoint ones;
3. hidden neurons are matched one to one by the Hungarian algorithm
   (:func:`scipy.optimize.linear_sum_assignment`) minimising ``Σ d(i, σ(i))``; that matching
   renames ``b``'s neurons for the next layer (the permutation is propagated);
4. the layer's distance is the mean ``d`` over its matched pairs, in ``[0, 1]``.

``topology_distance`` is the mean over the compared layers, in ``[0, 1]``: 0 for the same
structure up to a permutation of hidden units, 1 when no neuron shares an input with its
match anywhere. Networks with skip-layer edges (GraphNet) work the same way: a neuron's input
set holds its predecessors from every earlier layer.

Our choices where the paper and its code leave room (each documented in docs/sparse-training.md):

* **Outputs keep their identity** (``match_outputs=False``): output ``j`` of ``a`` is compared
  with output ``j`` of ``b``, since output units are labelled (classes) and permuting them
  changes the function. The authors' code (Sparse_Topology_Distance) matches the output
  layer too; ``match_outputs=True`` does that.
* **Symmetry**: the greedy layer-by-layer matching can depend on the direction when
  several matchings are equally good, so the distance is the smaller of the two directions'
  (each is the cost of a concrete alignment of hidden units, so the smaller one is the
  better upper bound of the best alignment's cost); ``d(a, b) == d(b, a)`` exactly.
* **Ties**: neurons of ``a`` with identical input sets ("twins", e.g. dead neurons with no
  input left) are interchangeable for the layer's cost but not for the next layer's.
  Among their equally good partners we prefer those with the same Weisfeiler–Lehman colour of
  the whole network (their connections forward and back, refined until stable), so a copy
  whose hidden units are permuted comes out at exactly 0 also when it has twins. The
  authors' code takes whichever optimum the solver returns.

Cost: per compared layer with ``n`` neurons and ``m`` earlier neurons, ``O(n²·m)`` for the
distance matrix (a sparse product) plus ``O(n³)`` for the Hungarian algorithm, twice (both
directions); the colour refinement is ``O(E)`` per round. Measured numbers: docs/sparse-training.md.

Example::

    >>> a = MaskedDeepFFN(4, 2, [3])
    >>> topology_distance(a, a)
    0.0
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs.dag import layer_index

__all__ = [
    "TopologyDistance",
    "pairwise_topology_distances",
    "topology_alignment",
    "topology_distance",
]


@dataclass(frozen=True)
class TopologyDistance:
    """NNSTD of two networks: the mean over compared layers, per layer, and the matching.

    ``layers`` lists each compared layer's distance in layer order (the first layer, the
    inputs, has no inputs of its own and is not compared); ``matching`` maps every matched
    neuron of ``a`` to its partner in ``b``.
    """

    distance: float
    layers: tuple[float, ...]
    matching: dict[Hashable, Hashable]


@dataclass
class _Net:
    """A network graph laid out for matching: layers, fixed identities, edges by position.

    A vertex's position is its place in the concatenated layers, so layer ``k`` holds the
    positions ``starts[k]`` to ``starts[k + 1] - 1``.
    """

    graph: nx.DiGraph
    layers: list[list[Hashable]]  # vertices per layer; fixed layers sorted by label
    fixed: list[bool]  # per layer: identities kept (inputs, outputs), not matched
    index: dict[Hashable, int]  # vertex -> position in the concatenated layers
    levels: list[Any]  # the graph's layer value of each layer
    starts: np.ndarray  # position of each layer's first vertex, then the vertex count
    sources: np.ndarray  # every edge's source position, edges sorted by target
    targets: np.ndarray  # every edge's target position, ascending


def _as_graph(item: Any) -> nx.DiGraph:
    if isinstance(item, nx.Graph):
        if not item.is_directed():
            raise UsageError(
                "topology_distance needs directed graphs (as to_graph returns), got an undirected one"
            )
        return item
    from hiddenstruct.graphs.convert import to_graph

    return to_graph(item)


def _sort_key(label: Hashable) -> tuple[str, str]:
    return (type(label).__name__, repr(label))


def _layout(graph: nx.DiGraph, match_outputs: bool) -> _Net:
    if graph.number_of_nodes() == 0:
        raise UsageError("topology_distance: a graph has no vertices")
    attrs = nx.get_node_attributes(graph, "layer")
    level = attrs if len(attrs) == graph.number_of_nodes() else layer_index(graph)
    roles = nx.get_node_attributes(graph, "role")
    ordered = sorted(set(level.values()))
    grouped: dict[Any, list[Hashable]] = {lv: [] for lv in ordered}
    for v in graph.nodes:
        grouped[level[v]].append(v)
    layers, fixed = [], []
    for lv in ordered:
        members = grouped[lv]
        kinds = {roles.get(v, "hidden") for v in members}
        if len(kinds) > 1:
            raise UsageError(
                f"topology_distance: layer {lv} mixes vertex roles {sorted(kinds)}; "
                "inputs and outputs must sit in layers of their own (as to_graph lays them out)"
            )
        kind = kinds.pop()
        keep = kind == "input" or (kind == "output" and not match_outputs)
        layers.append(sorted(members, key=_sort_key) if keep else members)
        fixed.append(keep)
    index = {v: i for i, v in enumerate(v for layer in layers for v in layer)}
    starts = np.cumsum([0, *map(len, layers)])
    pairs = np.array([(index[u], index[v]) for u, v in graph.edges], dtype=np.int64)
    pairs = pairs.reshape(-1, 2)
    by_target = np.argsort(pairs[:, 1], kind="stable")
    sources, targets = pairs[by_target, 0], pairs[by_target, 1]
    return _Net(graph, layers, fixed, index, ordered, starts, sources, targets)


def _check_same_architecture(a: _Net, b: _Net) -> None:
    if len(a.layers) != len(b.layers):
        raise UsageError(
            f"topology_distance compares networks of one architecture: {len(a.layers)} vs "
            f"{len(b.layers)} layers"
        )
    for k, (la, lb) in enumerate(zip(a.layers, b.layers, strict=True)):
        if a.fixed[k] != b.fixed[k] or len(la) != len(lb):
            raise UsageError(
                f"topology_distance compares networks of one architecture: layer {a.levels[k]} has "
                f"{len(la)} vs {len(lb)} neurons"
            )
        if a.fixed[k] and la != lb:
            raise UsageError(
                f"topology_distance: layer {a.levels[k]} holds differently labelled inputs/outputs "
                f"(e.g. {la[0]!r} vs {lb[0]!r})"
            )


def _colours(a: _Net, b: _Net) -> tuple[np.ndarray, np.ndarray]:
    """Weisfeiler–Lehman colours of both networks' neurons, refined jointly (comparable).

    Start: fixed neurons by label, hidden ones by layer; each round a neuron's colour becomes
    (its colour, the multiset of its predecessors' colours, that of its successors'), the
    multisets hashed as sums of fixed pseudo-random 62-bit codes (collisions are negligible).
    """
    start: dict[Any, int] = {}
    initial = []
    for net in (a, b):
        for k, layer in enumerate(net.layers):
            for v in layer:
                key = ("fixed", k, _sort_key(v)) if net.fixed[k] else ("hidden", k)
                initial.append(start.setdefault(key, len(start)))
    colour = np.asarray(initial, dtype=np.int64)
    na = len(a.index)
    src = np.concatenate([a.sources, b.sources + na])
    dst = np.concatenate([a.targets, b.targets + na])
    codes = np.random.default_rng(20200914)  # a fixed hash, not a random choice of ours
    classes = len(np.unique(colour))
    for _ in range(len(colour)):
        code_in = codes.integers(1, 2**62, size=classes + 1, dtype=np.int64)
        code_out = codes.integers(1, 2**62, size=classes + 1, dtype=np.int64)
        into = np.zeros(len(colour), dtype=np.int64)
        out = np.zeros(len(colour), dtype=np.int64)
        with np.errstate(over="ignore"):
            np.add.at(into, dst, code_in[colour[src]])
            np.add.at(out, src, code_out[colour[dst]])
        _, refined = np.unique(np.stack([colour, into, out], 1), axis=0, return_inverse=True)
        refined = refined.reshape(-1)
        count = int(refined.max()) + 1
        colour = refined
        if count == classes:
            break
        classes = count
    return colour[:na], colour[na:]


def _input_sets(net: _Net, k: int, rename: np.ndarray, width: int):
    """CSR matrix: row i = the (renamed) input set of ``net.layers[k][i]``."""
    first, end = net.starts[k], net.starts[k + 1]
    lo, hi = np.searchsorted(net.targets, (first, end))  # the edges into layer k
    rows, cols = net.targets[lo:hi] - first, rename[net.sources[lo:hi]]
    if cols.size and cols.min() < 0:
        raise UsageError(
            "topology_distance: an edge does not lead from an earlier layer to a later one; "
            "the vertices' 'layer' attributes must increase along every edge"
        )
    data = np.ones(len(rows))
    return sparse.csr_matrix((data, (rows, cols)), shape=(end - first, width))


def _edit_distances(xa, xb) -> np.ndarray:
    """``|A △ B| / |A ∪ B|`` for every row pair (0 where both sets are empty)."""
    inter = (xa @ xb.T).toarray()
    size_a = np.asarray(xa.sum(1)).reshape(-1, 1)
    size_b = np.asarray(xb.sum(1)).reshape(1, -1)
    union = size_a + size_b - inter
    out = np.zeros_like(union)
    np.divide(union - inter, union, out=out, where=union > 0)
    return out


def _twin_groups(xa) -> list[np.ndarray]:
    groups: dict[tuple[int, ...], list[int]] = {}
    for i in range(xa.shape[0]):
        cols = xa.indices[xa.indptr[i] : xa.indptr[i + 1]]
        groups.setdefault(tuple(sorted(cols.tolist())), []).append(i)
    return [np.asarray(g) for g in groups.values() if len(g) > 1]


def _align(a: _Net, b: _Net, colours) -> tuple[list[float], np.ndarray]:
    """Greedy layer-by-layer NNSTD from ``a`` to ``b``: per-layer distances and the renaming
    of ``b``'s vertices (position in ``b`` → position in ``a``)."""
    total = len(a.index)
    rename = np.full(total, -1, dtype=np.int64)
    distances: list[float] = []
    for k in range(len(a.layers)):
        # one architecture (checked): layer k holds the same positions in both networks
        pos_a = pos_b = np.arange(a.starts[k], a.starts[k + 1])
        n = len(pos_a)
        if k == 0:  # the first layer has no inputs: nothing to compare
            rename[pos_b] = pos_a if a.fixed[k] else _match_by_colour(pos_a, pos_b, colours)
            continue
        xa = _input_sets(a, k, np.arange(total), total)
        xb = _input_sets(b, k, rename, total)
        cost = _edit_distances(xa, xb)
        if a.fixed[k]:
            partner = np.arange(n)
            distances.append(float(np.mean(np.diagonal(cost))))
        else:
            _, partner = linear_sum_assignment(cost)
            distances.append(float(np.mean(cost[np.arange(n), partner])))
            if colours is not None:
                partner = _break_ties(xa, partner, pos_a, pos_b, colours)
        rename[pos_b[partner]] = pos_a
    return distances, rename


def _match_by_colour(pos_a, pos_b, colours) -> np.ndarray:
    """For an unmatched first layer: pair neurons of equal colour (any order otherwise)."""
    if colours is None:
        return pos_a
    ca, cb = colours[0][pos_a], colours[1][pos_b]
    _, partner = linear_sum_assignment((ca[:, None] != cb[None, :]).astype(float))
    out = np.empty(len(pos_b), dtype=np.int64)
    out[partner] = pos_a
    return out


def _break_ties(xa, partner, pos_a, pos_b, colours) -> np.ndarray:
    """Re-pair twins of ``a`` (identical input sets: same cost with any of their partners)
    with those partners so that colours agree where they can."""
    partner = partner.copy()
    ca, cb = colours
    for group in _twin_groups(xa):
        mates = partner[group]
        differ = ca[pos_a[group]][:, None] != cb[pos_b[mates]][None, :]
        _, order = linear_sum_assignment(differ.astype(float))
        partner[group] = mates[order]
    return partner


def _check_comparable(na: _Net, nb: _Net) -> None:
    _check_same_architecture(na, nb)
    if len(na.layers) < 2:
        raise UsageError("topology_distance needs at least two layers (inputs and one more)")


def topology_alignment(a: Any, b: Any, *, match_outputs: bool = False) -> TopologyDistance:
    """NNSTD of ``a`` and ``b`` with its per-layer distances and hidden-unit matching.

    ``a`` and ``b``: models :func:`~hiddenstruct.graphs.to_graph` supports, or their graphs
    (DiGraphs with inputs and outputs; vertices carry ``layer``, inputs/outputs ``role``).
    To compare masks whatever the weights' values (a just-regrown zero weight counts), pass
    :func:`hiddenstruct.sparse_training.mask_graph` graphs. See the module docstring for the
    definition.
    """
    na, nb = (_layout(_as_graph(x), match_outputs) for x in (a, b))
    return _alignment(na, nb)


def _alignment(na: _Net, nb: _Net) -> TopologyDistance:
    """:func:`topology_alignment` of two laid-out networks."""
    _check_comparable(na, nb)
    needs_colours = any(not na.fixed[k] and len(layer) > 1 for k, layer in enumerate(na.layers))
    forward = _colours(na, nb) if needs_colours else None
    backward = (forward[1], forward[0]) if forward is not None else None
    d_ab, rename_ab = _align(na, nb, forward)
    d_ba, rename_ba = _align(nb, na, backward)
    mean_ab, mean_ba = float(np.mean(d_ab)), float(np.mean(d_ba))
    vertices_a = [v for layer in na.layers for v in layer]
    vertices_b = [v for layer in nb.layers for v in layer]
    if mean_ab <= mean_ba:
        matching = {vertices_a[rename_ab[j]]: vertices_b[j] for j in range(len(vertices_b))}
        return TopologyDistance(mean_ab, tuple(d_ab), _hidden_only(matching, na))
    matching = {vertices_a[i]: vertices_b[rename_ba[i]] for i in range(len(vertices_a))}
    return TopologyDistance(mean_ba, tuple(d_ba), _hidden_only(matching, na))


def _hidden_only(matching: dict, net: _Net) -> dict:
    fixed = {v for k, layer in enumerate(net.layers) if net.fixed[k] for v in layer}
    return {u: v for u, v in matching.items() if u not in fixed}


def topology_distance(a: Any, b: Any, *, match_outputs: bool = False) -> float:
    """NNSTD (Liu et al. 2020) of two networks of one architecture, in ``[0, 1]``.

    0 for the same structure up to a permutation of hidden units, symmetric, growing as the
    masks differ more; see :func:`topology_alignment` and the module docstring.
    """
    return topology_alignment(a, b, match_outputs=match_outputs).distance


def pairwise_topology_distances(items: Sequence[Any], *, match_outputs: bool = False) -> np.ndarray:
    """Symmetric matrix of :func:`topology_distance` between every pair of ``items``."""
    nets = [_layout(_as_graph(x), match_outputs) for x in items]  # each laid out once
    n = len(nets)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = _alignment(nets[i], nets[j]).distance
    return out
