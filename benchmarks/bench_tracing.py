"""Tracing a model into a graph (docs/traced-graphs.md): index arithmetic vs. a per-edge loop.

Workload ``lenet5-neuron``: the neuron-level graph of LeNet-5 on one 28×28 image (≈ 8 900
vertices, ≈ 413 000 edges, half of each kernel masked out). Ours: ``to_graph(model, x,
granularity="neuron")`` (fx walk with id tensors, edges as whole arrays, ``add_edges_from``
in bulk). Baseline: the straightforward construction — Python loops over output positions
and kernel entries, one ``G.add_edge`` per live weight (what an unrolling written edge by
edge does). Both graphs are checked to have the same vertices and edges. A second line times
our walk up to the edge arrays only (no networkx graph; what the effective-sparsity analysis
uses) against the same baseline: most of ``to_graph``'s time is networkx inserting edges.

Also timed without a baseline (sizes for the docs): ResNet-18 (full width, 224×224) at op and
channel level, and LeNet-5 / ResNet-18 (width 8, 32×32) at every granularity.

Prints ``name: ours X s, baseline Y s, ratio R`` (medians) via ``benchmarks/common.py``.
Run: ``python benchmarks/bench_tracing.py [--quick] [--repeats R]``.
"""

from __future__ import annotations

import statistics

import networkx as nx
import torch

from hiddenstruct.graphs import to_graph
from hiddenstruct.graphs.fx_trace import trace_model
from hiddenstruct.graphs.traced import unique_edges
from hiddenstruct.graphs.traced_neurons import NeuronTracer
from hiddenstruct.nn import apply_mask
from hiddenstruct.zoo import LeNet5, ResNet18

try:
    from common import bench_parser, measure, repeats_of, report
except ImportError:  # run from the repository root as a module path
    from benchmarks.common import bench_parser, measure, repeats_of, report


def masked_lenet5(seed: int = 0) -> LeNet5:
    model = LeNet5(seed=seed)
    gen = torch.Generator().manual_seed(seed)
    for module in (model.conv1, model.conv2, model.fc1):
        apply_mask(module, "weight", torch.rand(module.weight.shape, generator=gen) < 0.5)
    return model


def _conv_loop(G, conv, source, target, size_in, size_out, pad):
    weight = conv.weight.detach()
    c_out, c_in, k, _ = weight.shape
    for o in range(c_out):
        for c in range(c_in):
            for kh in range(k):
                for kw in range(k):
                    if weight[o, c, kh, kw] == 0:
                        continue
                    for oh in range(size_out):
                        ih = oh + kh - pad
                        if not 0 <= ih < size_in:
                            continue
                        for ow in range(size_out):
                            iw = ow + kw - pad
                            if 0 <= iw < size_in:
                                G.add_edge(
                                    (source, (c * size_in + ih) * size_in + iw),
                                    (target, (o * size_out + oh) * size_out + ow),
                                    kind="weight",
                                )


def _pool_loop(G, source, target, channels, size_in):
    size_out = size_in // 2
    for c in range(channels):
        for oh in range(size_out):
            for ow in range(size_out):
                for dh in range(2):
                    for dw in range(2):
                        G.add_edge(
                            (source, (c * size_in + 2 * oh + dh) * size_in + 2 * ow + dw),
                            (target, (c * size_out + oh) * size_out + ow),
                            kind="structural",
                        )


def _linear_loop(G, linear, source, target):
    weight = linear.weight.detach()
    for o in range(weight.shape[0]):
        for i in range(weight.shape[1]):
            if weight[o, i] != 0:
                G.add_edge((source, i), (target, o), kind="weight")


def naive_lenet5_graph(model: LeNet5) -> nx.DiGraph:
    """The same graph, one edge at a time (labels as ``to_graph`` names them)."""
    G = nx.DiGraph()
    _conv_loop(G, model.conv1, "in", "conv1", 28, 28, 2)
    _pool_loop(G, "conv1", "pool1", 6, 28)
    _conv_loop(G, model.conv2, "pool1", "conv2", 14, 10, 0)
    _pool_loop(G, "conv2", "pool2", 16, 10)
    _linear_loop(G, model.fc1, "pool2", "fc1")
    _linear_loop(G, model.fc2, "fc1", "fc2")
    _linear_loop(G, model.fc3, "fc2", "out")
    return G


def neuron_arrays(model, x):
    """The fx walk and its edge arrays without the networkx graph (what effective_* use)."""
    with torch.no_grad():
        tracer = NeuronTracer(trace_model(model), (x,)).run()
    return unique_edges(tracer)


def timed(label: str, fn, repeats: int) -> None:
    times = measure(fn, repeats=repeats, warmup=0)
    G = fn()
    print(
        f"{label}: {statistics.median(times):.3g} s (median of {repeats}), "
        f"{G.number_of_nodes():,} vertices, {G.number_of_edges():,} edges",
        flush=True,
    )


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0], default_repeats=3)
    args = parser.parse_args()
    repeats = repeats_of(args)
    torch.set_num_threads(1)
    model = masked_lenet5()
    x = torch.zeros(1, 1, 28, 28)
    ours = to_graph(model, x, granularity="neuron")
    baseline = naive_lenet5_graph(model)
    isolated = set(ours) - set(baseline)  # vertices without edges are not in the loop's graph
    assert all(ours.degree(v) == 0 for v in isolated)
    assert set(ours.edges()) == set(baseline.edges()), "the two constructions differ"
    print(f"lenet5-neuron: {ours.number_of_edges():,} edges, same in both", flush=True)
    ours_times = measure(lambda: to_graph(model, x, granularity="neuron"), repeats, warmup=0)
    base_times = measure(lambda: naive_lenet5_graph(model), 1 if args.quick else repeats, 0)
    report("lenet5-neuron", ours_times, base_times)
    walk_times = measure(lambda: neuron_arrays(model, x), repeats, warmup=0)
    report("lenet5-neuron-arrays-only (no networkx)", walk_times, base_times)

    small = ResNet18(width=8).eval()
    small_x = torch.zeros(1, 3, 32, 32)
    for granularity in ("op", "channel", "neuron"):
        timed(f"lenet5-{granularity}", lambda g=granularity: to_graph(model, x, granularity=g),
              repeats)  # fmt: skip
        timed(
            f"resnet18-w8-32px-{granularity}",
            lambda g=granularity: to_graph(small, small_x, granularity=g),
            repeats,
        )
    if not args.quick:
        full = ResNet18(classes=1000).eval()
        image = torch.zeros(1, 3, 224, 224)
        for granularity in ("op", "channel"):
            timed(
                f"resnet18-224px-{granularity}",
                lambda g=granularity: to_graph(full, image, granularity=g),
                repeats,
            )


if __name__ == "__main__":
    main()
