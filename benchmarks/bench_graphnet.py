"""GraphNet (one weight per edge) vs. dense masked blocks per connected layer pair.

Graphs: Watts–Strogatz (k=10, p=0.1) and Erdős–Rényi G(n, m=5n) with n = 10³ and 10⁴
(seeded), oriented by ascending labels. For each graph:

* build time of ``GraphNet(G, 64, 10)`` vs. building the baseline;
* parameter count, asserted to equal ``E + input·|layer 0| + output·|readout| + N + output``
  (and the baseline's, which grows with the layer widths, is printed);
* one forward + backward pass (batch 32, cross-entropy) vs. the baseline.

The baseline is the usual way to run a graph as a network (as in the paper's code): one
dense weight matrix and one mask per connected pair of layers (s → l), computing
``z_l = b_l + Σ_s (W_sl ⊙ M_sl) a_s`` with autograd. Both sides hold identical weights.
Threads default to 1 because the benchmark machine is shared (``--threads``).
Run: ``python benchmarks/bench_graphnet.py [--quick] [--threads N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import time

import networkx as nx
import torch
from torch import nn

from hiddenstruct.nn import GraphNet, graphnet_parameter_count
from hiddenstruct.nn.graphnet import plan_graph

try:
    from common import measure, report
except ImportError:  # run from the repository root as a module path
    from benchmarks.common import measure, report

INPUT, OUTPUT, BATCH = 64, 10, 32


class DenseBlockNet(nn.Module):
    """Baseline: a masked dense matrix per connected layer pair, weights copied from a GraphNet.

    It lays out ``G`` itself (validation, orientation, layer index — the same work any
    graph-to-network builder does), so its build time is comparable with GraphNet's.
    """

    def __init__(self, G: nx.Graph, net: GraphNet) -> None:
        super().__init__()
        plan = plan_graph(G)
        assert plan.layer_ptr == net.layer_ptr and plan.vertices == net.vertices
        p = net.layer_ptr
        sizes = [p[i + 1] - p[i] for i in range(net.num_layers)]
        layer_of = torch.repeat_interleave(torch.arange(net.num_layers), torch.tensor(sizes))
        src, dst = net.edge_src, net.edge_dst
        w = net.edges.weight.detach()
        self.act = torch.relu
        self.input_layer = nn.Linear(INPUT, sizes[0], bias=False)
        self.input_layer.weight.data.copy_(net.input_layer.weight.detach())
        self.biases = nn.ParameterList(
            nn.Parameter(net.bias.detach()[p[i] : p[i + 1]].clone()) for i in range(net.num_layers)
        )
        pair_key = layer_of[dst] * net.num_layers + layer_of[src]
        order = torch.argsort(pair_key, stable=True)
        keys, counts = torch.unique_consecutive(pair_key[order], return_counts=True)
        self.blocks = nn.ParameterList()
        self.pairs: list[list[tuple[int, int]]] = [[] for _ in range(net.num_layers)]
        start = 0
        for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
            target, source = divmod(key, net.num_layers)
            sel = order[start : start + count]
            start += count
            block = torch.zeros(sizes[target], sizes[source])
            block[dst[sel] - p[target], src[sel] - p[source]] = w[sel]
            self.register_buffer(f"mask{len(self.blocks)}", (block != 0).float())
            self.pairs[target].append((len(self.blocks), source))
            self.blocks.append(nn.Parameter(block))
        ridx = net.readout_index - p[-2]
        assert ridx.min() >= 0, "baseline supports last-layer readout only"
        self.readout = nn.Linear(len(ridx), OUTPUT)
        self.readout.load_state_dict(
            {"weight": net.readout.weight.detach(), "bias": net.readout.bias.detach()}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        acts = [self.act(self.input_layer(x) + self.biases[0])]
        for target in range(1, len(self.biases)):
            z = self.biases[target]
            for block, source in self.pairs[target]:
                masked = self.blocks[block] * getattr(self, f"mask{block}")
                z = z + acts[source] @ masked.t()
            acts.append(self.act(z))
        return self.readout(acts[-1])


def graphs(quick: bool, seed: int) -> list[tuple[str, nx.Graph]]:
    sizes = (1_000,) if quick else (1_000, 10_000)
    out = []
    for n in sizes:
        out.append((f"WS n={n}", nx.watts_strogatz_graph(n, 10, 0.1, seed=seed)))
        out.append((f"ER n={n}", nx.gnm_random_graph(n, 5 * n, seed=seed)))
    return out


def bench_graph(
    name: str, G: nx.Graph, x: torch.Tensor, y: torch.Tensor, repeats: int, seed: int
) -> None:
    """Build, count, check and time one graph."""
    torch.manual_seed(seed)
    built: dict[str, nn.Module] = {}
    ours_build = measure(lambda: built.__setitem__("ours", GraphNet(G, INPUT, OUTPUT)), repeats)
    net = built["ours"]
    base_build = measure(lambda: built.__setitem__("base", DenseBlockNet(G, net)), 1)
    base = built["base"]
    params = sum(p.numel() for p in net.parameters())
    expected = graphnet_parameter_count(
        G.number_of_edges(),
        G.number_of_nodes(),
        net.layer_ptr[1],
        len(net.readout_index),
        INPUT,
        OUTPUT,
    )
    assert params == expected, f"{name}: {params} parameters, formula says {expected}"
    base_params = sum(p.numel() for p in base.parameters())
    with torch.no_grad():
        err = float((net(x) - base(x)).abs().max())
    assert err < 1e-4, f"{name}: baseline differs by {err}"
    print(
        f"# {name}: E={G.number_of_edges()}, layers={net.num_layers}, "
        f"parameters ours {params} (= formula), baseline {base_params}"
    )
    loss_fn = nn.CrossEntropyLoss()

    def step(model: nn.Module) -> None:
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()

    report(f"graphnet build {name} (baseline: 1 run)", ours_build, base_build)
    start = time.perf_counter()
    ours = measure(lambda: step(net), repeats)
    theirs = measure(lambda: step(base), 1, warmup=0)  # the baseline's warm-up, timed
    if theirs[0] < 2.0:  # cheap: discard the warm-up as usual
        theirs = measure(lambda: step(base), repeats, warmup=0)
    else:  # very slow (seconds per step): the warm-up plus one more run keep the bench short
        theirs += measure(lambda: step(base), 1, warmup=0)
    report(f"graphnet fwd+bwd {name} batch {BATCH}", ours, theirs)
    print(f"#   ({time.perf_counter() - start:.1f} s for the timing runs)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 10³-node graphs")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    x = torch.randn(BATCH, INPUT, generator=torch.Generator().manual_seed(args.seed))
    y = torch.randint(0, OUTPUT, (BATCH,), generator=torch.Generator().manual_seed(args.seed + 1))
    for name, G in graphs(args.quick, args.seed):
        bench_graph(name, G, x, y, args.repeats, args.seed)


if __name__ == "__main__":
    main()
