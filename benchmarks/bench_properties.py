"""Graph properties (docs/priors-and-prediction.md): igraph backend vs. the networkx reference.

Workloads (both backends compute the same 23 values, equal to 1e-9 — checked here too):

* ``prior-graphs``: 200 paper-style prior graphs (100 connected Watts–Strogatz with
  k = n // 5, p = 1 and 100 Barabási–Albert with m = n // 10, n uniform in [10, 50], seeded),
  all properties of all graphs per measurement;
* ``lenet-300-100``: the graph of a LeNet-300-100 at 10 % density, built as a seeded layered
  random DAG 784-300-100-10 keeping each possible edge with probability 0.1
  (≈ 1 194 vertices, ≈ 26 800 edges). networkx needs minutes on it, so by default it is
  measured on a half-width copy (392-150-50-10, same density) and the full graph is timed
  with igraph only; ``--full`` also times networkx on the full graph (≈ 4–5 minutes).

Prints ``name: ours X s, baseline Y s, ratio R`` (medians) via ``benchmarks/common.py``.
Run: ``python benchmarks/bench_properties.py [--quick] [--full] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import math

import networkx as nx
import numpy as np

from hiddenstruct.graphs.generators import sample_prior_graphs
from hiddenstruct.graphs.properties import properties

try:
    from common import measure, report
except ImportError:  # run from the repository root as a module path
    from benchmarks.common import measure, report

LENET = (784, 300, 100, 10)


def layered_graph(sizes: tuple[int, ...], density: float, seed: int) -> nx.DiGraph:
    """Seeded layered random DAG: each edge between consecutive layers kept with ``density``."""
    rng = np.random.default_rng(seed)
    D = nx.DiGraph()
    D.add_nodes_from(range(sum(sizes)))
    offset = 0
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        u, v = np.nonzero(rng.random((a, b)) < density)
        D.add_edges_from(zip((u + offset).tolist(), (v + offset + a).tolist(), strict=True))
        offset += a
    isolated = [v for v in D if D.degree(v) == 0]
    D.remove_nodes_from(isolated)  # (rare) unconnected units carry no structure
    return D


def all_properties(graphs: list[nx.Graph], backend: str) -> list[dict[str, float]]:
    return [properties(G, backend) for G in graphs]


def check_equal(fast: list[dict], slow: list[dict]) -> None:
    for a, b in zip(fast, slow, strict=True):
        for key in a:
            same = (math.isnan(a[key]) and math.isnan(b[key])) or math.isclose(
                a[key], b[key], rel_tol=1e-9, abs_tol=1e-12
            )
            if not same:
                raise SystemExit(f"backends disagree on {key}: {a[key]!r} vs {b[key]!r}")


def bench(name: str, graphs: list[nx.Graph], repeats: int, baseline_repeats: int) -> None:
    fast = all_properties(graphs, "igraph")
    slow_result: list[list[dict]] = []

    def slow_run() -> None:
        slow_result.append(all_properties(graphs, "networkx"))

    ours = measure(lambda: all_properties(graphs, "igraph"), repeats)
    baseline = measure(slow_run, baseline_repeats, warmup=0)  # networkx: no warm-up effects
    check_equal(fast, slow_result[0])
    report(name, ours, baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="50 prior graphs, quarter-width LeNet (seconds)"
    )
    parser.add_argument(
        "--full", action="store_true", help="also time networkx on the full LeNet-300-100 graph"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="repeats of the fast backend (default: 3)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    count = 25 if args.quick else 100
    priors = sample_prior_graphs("ws", count, seed=args.seed) + sample_prior_graphs(
        "ba", count, seed=args.seed + 1
    )
    bench(f"prior-graphs x{len(priors)}", priors, args.repeats, 1 if args.quick else 2)

    divisor = 4 if args.quick else 2
    small = layered_graph(tuple(max(10, s // divisor) for s in LENET[:-1]) + (10,), 0.1, args.seed)
    label = f"lenet-300-100 1/{divisor} width ({small.number_of_nodes()} nodes, {small.number_of_edges()} edges)"
    bench(label, [small], args.repeats, 1)

    lenet = layered_graph(LENET, 0.1, args.seed)
    label = f"lenet-300-100 ({lenet.number_of_nodes()} nodes, {lenet.number_of_edges()} edges)"
    if args.full:
        bench(label, [lenet], args.repeats, 1)
    else:
        seconds = measure(lambda: properties(lenet, "igraph"), args.repeats)
        print(
            f"{label}: ours {float(np.median(seconds)):.3f} s (igraph only; --full times networkx too)"
        )


if __name__ == "__main__":
    main()
