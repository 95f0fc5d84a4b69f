"""Break-even densities: from which density on does each sparse format beat the dense model?

Runs :func:`hiddenstruct.nn.speed_report` (CPU, ``torch.no_grad``) on

* LeNet-300-100 (``MaskedDeepFFN(784, 10, [300, 100])``), unstructured magnitude pruning
  (class-blinded), batch 1 and 64;
* the same LeNet-300-100 with structured neuron pruning (L1 per layer,
  :func:`hiddenstruct.pruning.prune_structured`), batch 64;
* LeNet-5 (``zoo.LeNet5``), unstructured and channel pruning, batch 64 of 28×28 images;
* a GRU classifier (``zoo.RNNTextClassifier(cell="GRU")``, embedding 64, hidden 256),
  unstructured and hidden-unit pruning, batch 64 of 50 tokens.

All weights are random (seeded, untrained): speed does not depend on what was learned.
For each density every format's outputs are compared with the masked model's (1e-5) and a
mismatch is printed as a failure. Cells are speed-ups over dense (dense time / format time,
medians of interleaved repeats, so all formats of a density see the same load); the last
row is the break-even density (faster by ≥ 1.1× from there on; see ``hiddenstruct.nn.speed``). Threads default to 1 (shared
machine). Run: ``python benchmarks/bench_break_even.py [--quick] [--repeats N]``.
"""

from __future__ import annotations

import os
import time

import torch

from hiddenstruct import zoo
from hiddenstruct.nn import MaskedDeepFFN, Timing, speed_report

try:
    from common import bench_parser, repeats_of
except ImportError:  # run from the repository root as a module path
    from benchmarks.common import bench_parser, repeats_of

DENSITIES = (0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02)
QUICK_DENSITIES = (0.5, 0.1, 0.02)


def cases(quick: bool):
    """(title, model, example inputs, unit)."""
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    ffn = MaskedDeepFFN(784, 10, [300, 100])
    images = torch.randn(64, 1, 28, 28, generator=gen)
    flat = images.reshape(64, -1)
    tokens = torch.randint(0, 100, (64 if not quick else 8, 50 if not quick else 10), generator=gen)
    gru = zoo.RNNTextClassifier(vocab=100, embed=64, hidden=256, classes=2, cell="GRU", seed=0)
    return [
        ("LeNet-300-100, unstructured, batch 1", ffn, flat[:1], None),
        ("LeNet-300-100, unstructured, batch 64", ffn, flat, None),
        ("LeNet-300-100, neurons, batch 64", ffn, flat, "neuron"),
        ("LeNet-5, unstructured, batch 64", zoo.LeNet5(seed=0), images, None),
        ("LeNet-5, channels, batch 64", zoo.LeNet5(seed=0), images, "channel"),
        (f"GRU classifier, unstructured, batch {tokens.shape[0]}×{tokens.shape[1]} tokens", gru, tokens, None),
        (f"GRU classifier, hidden units, batch {tokens.shape[0]}×{tokens.shape[1]} tokens", gru, tokens, "hidden"),
    ]  # fmt: skip


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0], default_repeats=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    repeats = repeats_of(args)
    densities = QUICK_DENSITIES if args.quick else DENSITIES
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {repeats} repeats, "
        f"load average at start {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    failures = []
    for title, model, inputs, unit in cases(args.quick):
        start = time.perf_counter()
        report = speed_report(model, inputs, densities, unit=unit, timing=Timing(repeats, warmup=2))
        print(
            f"\n### {title}  ({time.perf_counter() - start:.0f} s, load {os.getloadavg()[0]:.2f})"
        )
        print(report.table(), flush=True)
        failures += [f"{title}: {f}" for f in report.failures()]
    print("\noutput checks:", "all formats equal the masked model" if not failures else "FAILED")
    for failure in failures:
        print("  FAILED", failure)
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
