"""Seconds per trial of the priors experiment at paper settings: packed vs one graph at a time.

Paper settings: Reber 25 000 strings (18 750 train → 147 batches of 128 per epoch), Adam
lr 1e-3, clipping 5, 15 epochs, graphs WS/BA with n uniform in [10, 50]. Each timing runs
ONE epoch (ours: the full 147 batches, ``--repeats`` times (default 3), the median kept; the
baseline: ``--baseline-batches`` batches) and is extrapolated to 15 epochs × 147 batches; the
printed numbers are per-trial medians over the sample of graphs, with the load average
before and after.

* ours: K graphs packed into one disjoint model (``PackedGraphClassifier``; on CPU the
  C++ recurrent engine of ``hiddenstruct.nn.rnn_native``, else PyTorch's kernels),
  per-graph loss and clipping, one Adam;
* baseline: the original approach — one graph at a time, a per-time-step masked cell in a
  Python loop over time steps and layers (``hiddenstruct.testing.reference_step``), plain
  Adam + clipping;
* also printed: one graph at a time with the library's kernels (GraphRNN alone, K = 1;
  the same engine as ours), and, unless ``--no-compare-dense``, ours with the engine's
  sparse products off (``HIDDENSTRUCT_SPARSE=0``: every product dense), its timed epochs
  interleaved with ours on the same packs.

Wall times on a shared machine are noisy; CPU seconds (process time, 1 torch thread) are
printed too. Run: ``python benchmarks/bench_priors.py [--quick] [--modes GRU LSTM]``.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time

import torch
from common import bench_parser, repeats_of, report
from torch import nn
from torch.utils.data import DataLoader

from hiddenstruct.data.reber_torch import load_reber_splits, reber_collate
from hiddenstruct.graphs.dag import layers
from hiddenstruct.graphs.generators import sample_prior_graphs
from hiddenstruct.nn.masking import get_mask, original
from hiddenstruct.nn.packed import PackedGraphClassifier, graph_classifier
from hiddenstruct.nn.rnn_native import ENV_SPARSE
from hiddenstruct.nn.varlen import hidden_of
from hiddenstruct.testing import reference_stack
from hiddenstruct.training.optim import make_optimizer
from hiddenstruct.training.packed import train_packed

EPOCHS = 15
TRIALS_IN_PAPER_SWEEP = 800


def step_cell_forward(model: nn.Module, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The per-time-step baseline: loop over time and layers with masked weight matmuls
    (the reference cells of ``hiddenstruct.testing``, DAG-wired)."""
    layers_ = list(model.rnn.layers)
    weights = [
        (
            original(layer, "weight_ih") * _mask(layer, "weight_ih"),
            original(layer, "weight_hh") * _mask(layer, "weight_hh"),
            layer.bias_ih,
            layer.bias_hh,
        )
        for layer in layers_
    ]
    x = model.embedding(codes)
    _, states = reference_stack(layers_[0].mode, weights, x, lengths, dag=True)
    return model.readout(hidden_of(states[-1]))


def _mask(module: nn.Module, name: str) -> torch.Tensor:
    mask = get_mask(module, name)
    return torch.ones(()) if mask is None else mask


def train_alone(model: nn.Module, batches, forward) -> None:
    opt = make_optimizer("adam", model.parameters(), 1e-3)
    device = next(model.parameters()).device
    for codes, lengths, target in batches:
        codes, target = codes.to(device), target.to(device)
        loss = nn.functional.cross_entropy(forward(model, codes, lengths), target)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()


@contextlib.contextmanager
def sparse_products(on: bool):
    """The engine's sparse products on (the default) or off, for the block's duration."""
    before = os.environ.get(ENV_SPARSE)
    os.environ[ENV_SPARSE] = "1" if on else "0"
    try:
        yield
    finally:
        if before is None:
            del os.environ[ENV_SPARSE]
        else:
            os.environ[ENV_SPARSE] = before


def median_of(runs, which: int) -> float:
    return statistics.median(run[which] for run in runs)


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0], default_repeats=3)
    parser.add_argument(
        "--modes", nargs="+", default=["GRU"], help="recurrent modes (default: GRU)"
    )
    parser.add_argument(
        "--graphs", type=int, default=None, help="graphs in the sample (default 8, quick 4)"
    )
    parser.add_argument("--pack-size", type=int, default=8, help="K, graphs per pack (default 8)")
    parser.add_argument(
        "--baseline-batches",
        type=int,
        default=None,
        help="batches timed per baseline graph (default 4, quick 2)",
    )
    parser.add_argument("--device", default="cpu", help="cpu (the target) or cuda")
    parser.add_argument(
        "--scan-k", type=int, nargs="*", default=[], help="also time these pack sizes"
    )
    parser.add_argument(
        "--no-compare-dense",
        action="store_true",
        help="skip timing ours with the sparse products off (dense products only)",
    )
    args = parser.parse_args()
    n_graphs = args.graphs or (4 if args.quick else 8)
    pack = min(args.pack_size, n_graphs)
    baseline_batches = args.baseline_batches or (2 if args.quick else 4)
    repeats = repeats_of(args)
    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()[0]:.2f} at the start")

    train, _ = load_reber_splits(25_000, seed=0)
    loader = DataLoader(
        train,
        batch_size=128,
        shuffle=True,
        collate_fn=reber_collate,
        generator=torch.Generator().manual_seed(0),
    )
    batches = list(loader)
    epoch_batches = batches[:20] if args.quick else batches
    scale = EPOCHS * len(batches) / len(epoch_batches)  # → 15 full epochs
    graphs = sample_prior_graphs("ws", n_graphs // 2, seed=1) + sample_prior_graphs(
        "ba", n_graphs - n_graphs // 2, seed=2
    )
    graphs.sort(key=lambda G: (len(layers(G)), G.number_of_nodes()))
    print(
        f"{len(graphs)} graphs (WS/BA, n in [10, 50]), {len(batches)} batches of 128 per epoch; ours timed on "
        f"{len(epoch_batches)} batches, baseline on {baseline_batches} per graph; extrapolated to {EPOCHS} epochs; "
        f"1 torch thread, device {args.device}"
    )
    for mode in args.modes:
        per_trial: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        dense_walls: list[float] = []
        for k in [pack, *[k for k in args.scan_k if k != pack]]:
            walls, cpus = [], []
            for start in range(0, len(graphs), k):
                group = graphs[start : start + k]
                models = [graph_classifier(G, mode, seed=i) for i, G in enumerate(group)]
                packed = PackedGraphClassifier.from_models(models).to(args.device)
                sides = [True] if k != pack or args.no_compare_dense else [True, False]
                for sparse in sides:  # warm-up (not timed), each side its own
                    with sparse_products(sparse):
                        train_packed(packed, batches[:1], epochs=1)
                runs: dict[bool, list] = {side: [] for side in sides}
                for repeat in range(repeats):
                    # interleaved, so both sides see the same load; the first side alternates
                    for sparse in sides if repeat % 2 == 0 else sides[::-1]:
                        with sparse_products(sparse):
                            runs[sparse].append(
                                timed(lambda p=packed: train_packed(p, epoch_batches, epochs=1))
                            )
                walls.append(median_of(runs[True], 0) * scale / len(group))
                cpus.append(median_of(runs[True], 1) * scale / len(group))
                if False in runs:
                    dense_walls.append(median_of(runs[False], 0) * scale / len(group))
            per_trial[f"packed K={k}"], cpu[f"packed K={k}"] = walls, cpus
        fused, loop, fused_cpu, loop_cpu = [], [], [], []
        fused_scale = EPOCHS * len(batches) / baseline_batches
        for i, G in enumerate(graphs):
            model = graph_classifier(G, mode, seed=i).to(args.device)
            train_alone(model, batches[-1:], lambda m_, c, n: m_(c, n))  # warm-up (not timed)
            wall, cpu_s = timed(
                lambda m=model: train_alone(
                    m, batches[:baseline_batches], lambda m_, c, n: m_(c, n)
                )
            )
            fused.append(wall * fused_scale)
            fused_cpu.append(cpu_s * fused_scale)
            wall, cpu_s = timed(
                lambda m=model: train_alone(m, batches[:baseline_batches], step_cell_forward)
            )
            loop.append(wall * fused_scale)
            loop_cpu.append(cpu_s * fused_scale)
        ours = per_trial[f"packed K={pack}"]
        report(
            f"priors {mode} s/trial (15 epochs) packed K={pack} vs per-step cell, one graph at a time",
            ours,
            loop,
        )
        report(
            f"priors {mode} s/trial (15 epochs) packed K={pack} vs GraphRNN one graph at a time",
            ours,
            fused,
        )
        if dense_walls:
            report(
                f"priors {mode} s/trial (15 epochs) packed K={pack} vs the same with dense "
                "products only (HIDDENSTRUCT_SPARSE=0)",
                ours,
                dense_walls,
            )
        report(
            f"priors {mode} CPU s/trial packed K={pack} vs per-step cell",
            cpu[f"packed K={pack}"],
            loop_cpu,
        )
        report(
            f"priors {mode} CPU s/trial packed K={pack} vs GraphRNN one graph at a time",
            cpu[f"packed K={pack}"],
            fused_cpu,
        )
        for name, values in per_trial.items():
            print(
                f"  {mode} {name}: median {statistics.median(values):.1f} s/trial wall, {statistics.median(cpu[name]):.1f} s CPU"
            )
        hours = statistics.median(ours) * TRIALS_IN_PAPER_SWEEP / 3600
        base_hours = statistics.median(loop) * TRIALS_IN_PAPER_SWEEP / 3600
        print(
            f"  {mode}: ours is the median of {repeats} timed epochs per pack; "
            f"load average {os.getloadavg()[0]:.2f} now"
        )
        print(
            f"  {mode}: full sweep estimate ({TRIALS_IN_PAPER_SWEEP} trials, this mode's cost, 1 worker): "
            f"ours {hours:.1f} h, baseline {base_hours:.1f} h; 200 graphs of this mode: ours {hours / 4 * 60:.0f} min"
        )


if __name__ == "__main__":
    main()
