"""Structured pruning + compaction against a peer, Torch-Pruning, in the same run.

ResNet-18 (``hiddenstruct.zoo.ResNet18``, ImageNet layout, random seeded weights, eval mode)
on 3×32×32 inputs; both tools remove 50 % of the channels of every channel group by the
L1 norm, the classifier's outputs kept:

* ours: ``prune_structured(model, 0.5, unit="channel", criterion="l1",
  selection="layer")`` then ``compact(model, example_inputs)``;
* peer: ``torch_pruning.pruner.MetaPruner(model, example_inputs,
  importance=MagnitudeImportance(p=1), pruning_ratio=0.5, ignored_layers=[model.fc])`` and
  ``step()`` (Torch-Pruning prunes in place, physically).

Printed: the parameter counts of both results (equal when both remove the same number of
channels from the same groups; *which* channels may differ: the tools' L1 scores cover
different tensors), the time each tool takes to analyse the model (ours:
``dependency_graph``; peer: building the pruner, i.e. its dependency graph) and to prune
(CPU seconds of the process), and the CPU latency (median per forward) of the dense model and both compacted ones at
batch 1 and 64, in ``name: ours X s, baseline Y s, ratio R`` lines (baseline = dense; in
the ``Torch-Pruning vs dense`` lines "ours" is the time of Torch-Pruning's model).
Then the LSTM and GRU text classifiers (``zoo.RNNTextClassifier``, two layers) pruned to
50 % of their hidden units and compacted, against their dense models; Torch-Pruning is
tried on them too and what it does is printed.

Torch-Pruning is an optional peer (``pip install hiddenstruct[bench]``); without it the
script says so and exits 0. Threads default to 1 (shared machine); the load average is
printed at the start and the end.
Run: ``python benchmarks/bench_structured.py [--quick] [--repeats N] [--threads N]``.
"""

from __future__ import annotations

import copy
import importlib.metadata
import os
import statistics
import sys
import time
import warnings

import torch

from hiddenstruct.nn import compact, dependency_graph
from hiddenstruct.pruning import prune_structured
from hiddenstruct.zoo import ResNet18, RNNTextClassifier

try:
    from common import bench_parser, measure_interleaved, repeats_of, report
except ImportError:  # run from the repository root as a module path
    from benchmarks.common import bench_parser, measure_interleaved, repeats_of, report


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load() -> str:
    return "load average (1/5/15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def ours(model, inputs):
    """Prune 50 % of every group's channels by L1 and compact; (model, analyse s, total s)."""
    start = time.process_time()
    graph = dependency_graph(model, inputs)
    analysed = time.process_time() - start
    prune_structured(
        model, 0.5, example_inputs=inputs, criterion="l1", selection="layer", graph=graph
    )
    small = compact(model, inputs)
    return small, analysed, time.process_time() - start


def peer(tp, model, inputs, ignored):
    """Torch-Pruning on ``model`` in place; (model, analyse s, total s)."""
    start = time.process_time()
    pruner = tp.pruner.MetaPruner(
        model,
        inputs,
        importance=tp.importance.MagnitudeImportance(p=1),
        pruning_ratio=0.5,
        ignored_layers=ignored,
    )
    analysed = time.process_time() - start
    pruner.step()
    return model, analysed, time.process_time() - start


def latency(models: dict, batch_input: torch.Tensor, repeats: int, calls: int):
    def runner(model):
        def run():
            with torch.no_grad():
                for _ in range(calls):
                    model(batch_input)

        return run

    times = measure_interleaved({k: runner(m) for k, m in models.items()}, repeats=repeats)
    return {k: [t / calls for t in v] for k, v in times.items()}


def tool_times(run, dense, repeats):
    """Run a tool ``repeats`` times (after one untimed warm-up) on fresh copies of ``dense``:
    (its last result, median analyse s, median total s). Tool times are CPU seconds of this
    process (``time.process_time``; one torch thread): on a loaded machine wall time mostly
    measures the wait for a core."""
    run(copy.deepcopy(dense))
    results = [run(copy.deepcopy(dense)) for _ in range(repeats)]
    analyse = statistics.median(r[1] for r in results)
    total = statistics.median(r[2] for r in results)
    return results[-1][0], analyse, total


def resnet(tp, args, repeats):
    width = 16 if args.quick else 64
    dense = ResNet18(width=width, seed=0).eval()
    example = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    mine, my_analyse, my_total = tool_times(lambda m: ours(m, example), dense, repeats)
    theirs, tp_analyse, tp_total = tool_times(
        lambda m: peer(tp, m, example, [m.fc]), dense, repeats
    )
    print(f"ResNet-18 (width {width}), 50 % of the channels of every group by L1:")
    print(
        f"  parameters: dense {n_params(dense):,}, ours {n_params(mine):,}, "
        f"Torch-Pruning {n_params(theirs):,} "
        f"({'equal' if n_params(mine) == n_params(theirs) else 'DIFFERENT'})"
    )
    print(
        f"  CPU time to analyse (median of {repeats}): ours {my_analyse:.4f} s, Torch-Pruning "
        f"{tp_analyse:.4f} s; analyse + prune + compact: ours {my_total:.4f} s, "
        f"Torch-Pruning {tp_total:.4f} s"
    )
    for batch in (1, 64):
        x = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(batch))
        calls = 20 if batch == 1 else 3
        times = latency({"dense": dense, "ours": mine, "tp": theirs}, x, repeats, calls)
        report(f"resnet18 batch {batch} ours compacted vs dense", times["ours"], times["dense"])
        report(f"resnet18 batch {batch} Torch-Pruning vs dense", times["tp"], times["dense"])


def recurrent(tp, args, repeats, cell: str):
    hidden = 64 if args.quick else 256
    dense = RNNTextClassifier(
        vocab=1000, embed=64, hidden=hidden, classes=5, cell=cell, layers=2, seed=0
    ).eval()
    example = torch.randint(0, 1000, (1, 16), generator=torch.Generator().manual_seed(2))
    mine, my_analyse, my_total = tool_times(lambda m: ours(m, example), dense, repeats)
    print(
        f"{cell} classifier (2 layers of {hidden}), 50 % of the hidden units: parameters "
        f"dense {n_params(dense):,}, ours {n_params(mine):,} "
        f"(hidden_size {mine.rnn.hidden_size}); CPU time: analyse {my_analyse:.4f} s, "
        f"analyse + prune + compact {my_total:.4f} s (medians)"
    )
    try:
        warnings.filterwarnings("ignore", module="torch_pruning")  # its notes on RNN weights
        theirs = copy.deepcopy(dense)
        theirs, _, _ = peer(tp, theirs, example, [theirs.fc])
        if n_params(theirs) == n_params(dense):
            print("  Torch-Pruning on it: nothing removed (parameters unchanged)")
        else:
            with torch.no_grad():
                diff = float((theirs(example) - dense(example)).abs().max())
            print(
                f"  Torch-Pruning on it: parameters {n_params(theirs):,} "
                f"(hidden_size {theirs.rnn.hidden_size}); max output change {diff:.3g}"
            )
    except Exception as error:  # the peer's failure is a result to print, not to hide
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(f"  Torch-Pruning on it: fails ({type(error).__name__}: {message[:120]})")
    for batch in (1, 64):
        x = torch.randint(0, 1000, (batch, 32), generator=torch.Generator().manual_seed(batch))
        times = latency({"dense": dense, "ours": mine}, x, repeats, 10 if batch == 1 else 2)
        report(f"{cell.lower()} batch {batch} ours compacted vs dense", times["ours"],
               times["dense"])  # fmt: skip


def main() -> int:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    try:
        import torch_pruning as tp
    except ImportError:
        print(
            "bench_structured: Torch-Pruning is not installed; it is the peer of this "
            "benchmark (pip install 'hiddenstruct[bench]' or torch-pruning). Nothing measured."
        )
        return 0
    torch.set_num_threads(args.threads)
    repeats = repeats_of(args)
    peer_version = importlib.metadata.version("torch-pruning")
    print(f"torch {torch.__version__}, torch-pruning {peer_version}, threads {args.threads}")
    print(load())
    resnet(tp, args, repeats)
    for cell in ("LSTM", "GRU"):
        recurrent(tp, args, repeats, cell)
    print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
