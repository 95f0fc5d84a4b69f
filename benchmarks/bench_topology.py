"""Topology distance (NNSTD, ``hiddenstruct.graphs.topology``) on LeNet-300-100.

Two seeded random masks of LeNet-300-100 (784-300-100-10) at each density. Ours: the whole
:func:`topology_distance` (both directions, Hungarian matching, colour tie-breaks). Baseline:
the same NNSTD with each layer's distance matrix filled pair by pair with Python set
operations (the way the authors' reference code, Sparse_Topology_Distance, fills it), the
rest — Hungarian matching, propagation — unchanged. A second baseline builds each layer's
input sets predecessor by predecessor in Python (our implementation before its input sets
were sliced from the edge arrays), the rest unchanged. All must give the same distance
(checked). Prints ``name: ours X s, baseline Y s, ratio R`` (medians), one line per baseline.

Run: ``python benchmarks/bench_topology.py [--quick] [--repeats R]``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy import sparse

import hiddenstruct.graphs.topology as topology
from hiddenstruct.graphs import to_graph
from hiddenstruct.nn import MaskedDeepFFN, apply_mask

try:
    from common import measure_interleaved, report
except ImportError:  # run from the repository root as a module path
    from benchmarks.common import measure_interleaved, report


def random_lenet(density: float, seed: int, hidden=(300, 100)):
    gen = torch.Generator().manual_seed(seed)
    net = MaskedDeepFFN(784, 10, list(hidden))
    for layer in net.layers:
        apply_mask(layer, "weight", torch.rand(layer.weight.shape, generator=gen) < density)
    return to_graph(net)


def loop_edit_distances(xa, xb) -> np.ndarray:
    """Pairwise |A △ B| / |A ∪ B| with Python sets, one pair at a time."""
    sets_a = [set(xa.indices[xa.indptr[i] : xa.indptr[i + 1]].tolist()) for i in range(xa.shape[0])]
    sets_b = [set(xb.indices[xb.indptr[i] : xb.indptr[i + 1]].tolist()) for i in range(xb.shape[0])]
    out = np.zeros((len(sets_a), len(sets_b)))
    for i, a in enumerate(sets_a):
        for j, b in enumerate(sets_b):
            union = len(a | b)
            out[i, j] = (union - len(a & b)) / union if union else 0.0
    return out


def loop_input_sets(net, k, rename, width):
    """The input sets of layer ``k``, one predecessor at a time through networkx."""
    layer = net.layers[k]
    rows, cols = [], []
    for i, v in enumerate(layer):
        for u in net.graph.predecessors(v):
            rows.append(i)
            cols.append(rename[net.index[u]])
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(layer), width))


def with_replaced(name: str, slow):
    """topology_distance with ``topology.<name>`` replaced by ``slow``."""

    def run(a, b) -> float:
        fast = getattr(topology, name)
        setattr(topology, name, slow)
        try:
            return topology.topology_distance(a, b)
        finally:
            setattr(topology, name, fast)

    return run


baseline = with_replaced("_edit_distances", loop_edit_distances)
loop_sets = with_replaced("_input_sets", loop_input_sets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one density, 2 repeats")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    densities = (0.1,) if args.quick else (0.02, 0.1, 0.5)
    repeats = 2 if args.quick else args.repeats
    for density in densities:
        a, b = random_lenet(density, 0), random_lenet(density, 1)
        ours_value = topology.topology_distance(a, b)
        assert ours_value == baseline(a, b) == loop_sets(a, b), ours_value
        times = measure_interleaved(
            {
                "ours": lambda a=a, b=b: topology.topology_distance(a, b),
                "loop": lambda a=a, b=b: baseline(a, b),
                "loop sets": lambda a=a, b=b: loop_sets(a, b),
            },
            repeats=repeats,
            warmup=0,
        )
        name = f"nnstd lenet-300-100 density {density} ({a.number_of_edges()} edges"
        report(f"{name}, d={ours_value:.4f})", times["ours"], times["loop"])
        report(f"{name}, vs per-predecessor input sets)", times["ours"], times["loop sets"])


if __name__ == "__main__":
    main()
