"""Sparse inference: ``to_sparse(compact(model))`` vs. the dense model without masks.

Model: LeNet-300-100 (``MaskedDeepFFN(784, 10, [300, 100])``) with *random* (untrained,
seeded) weights, pruned per layer by magnitude to 90 % and 98 % zeros (the smallest |w| of
each weight matrix are masked). All sides run under ``torch.no_grad()`` on the same input:

* ours: ``to_sparse(compact(model))`` — CSR weights, dead neurons removed; on CPU the whole
  CSR chain is one native call (``hs_csr_chain``, see ``hiddenstruct.nn.sparse``);
* baseline: the plain dense model without masks (the masks removed, ``remove_mask``): what a
  user would otherwise deploy; targets: >= 5x at 98 % zeros (batch 1 and 64), >= 2x at 90 %.
  The masked model itself (``W ⊙ M`` recomputed per call, as during pruning experiments) is
  printed as a second line for reference.

Times are per forward call (each measurement runs ``--calls`` calls); the three sides'
repeats are interleaved so that all see the same machine load. Threads default to 1
because the benchmark machine is shared; pass ``--threads`` to change it.
Run: ``python benchmarks/bench_sparse_inference.py [--quick] [--threads N]``.
"""

from __future__ import annotations

import argparse
import copy

import torch

from hiddenstruct.nn import MaskedDeepFFN, apply_mask, compact, remove_mask, to_sparse

try:
    from common import measure_interleaved, report
except ImportError:  # run from the repository root as a module path
    from benchmarks.common import measure_interleaved, report


def pruned_lenet(zero_fraction: float, seed: int) -> MaskedDeepFFN:
    """LeNet-300-100 with random weights and ``zero_fraction`` of each matrix masked by |w|."""
    torch.manual_seed(seed)
    model = MaskedDeepFFN(784, 10, [300, 100])
    for layer in model.layers:
        w = layer.weight.detach().abs().flatten()
        k = int(round(zero_fraction * w.numel()))
        mask = torch.ones_like(w)
        mask[torch.argsort(w)[:k]] = 0
        apply_mask(layer, "weight", mask.view_as(layer.weight))
    return model.eval()


def per_call(fns: dict, calls: int, repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each of ``fns``, their repeats interleaved (same load for all)."""

    def many(fn):
        def run():
            for _ in range(calls):
                fn()

        return run

    times = measure_interleaved({k: many(fn) for k, fn in fns.items()}, repeats)
    return {k: [t / calls for t in ts] for k, ts in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and repeats")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    calls, repeats = (20, 5) if args.quick else (100, 15)
    for zeros in (0.90, 0.98):
        model = pruned_lenet(zeros, args.seed)
        small = compact(model)
        fast = to_sparse(small)
        plain = copy.deepcopy(model)
        for layer in plain.layers:
            remove_mask(layer, "weight")
        print(
            f"# {zeros:.0%} zeros: hidden {model.hidden_sizes} -> {small.hidden_sizes} "
            f"after compact, {fast.nonzeros()} stored weights"
        )
        for batch in (1, 64):
            x = torch.randn(batch, 784, generator=torch.Generator().manual_seed(args.seed))
            with torch.no_grad():
                err = float((fast(x) - model(x)).abs().max())
                assert err < 1e-4, f"sparse model differs by {err}"
                t = per_call(
                    {
                        "ours": lambda x=x, m=fast: m(x),
                        "masked": lambda x=x, m=model: m(x),
                        "dense": lambda x=x, m=plain: m(x),
                    },
                    calls,
                    repeats,
                )
            report(f"lenet300-100 {zeros:.0%} zeros batch {batch} vs dense", t["ours"], t["dense"])
            report(
                f"lenet300-100 {zeros:.0%} zeros batch {batch} vs masked", t["ours"], t["masked"]
            )


if __name__ == "__main__":
    main()
