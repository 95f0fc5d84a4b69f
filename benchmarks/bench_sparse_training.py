"""Dynamic sparse training cost: RigL / SET epochs vs plain masked training, and the mask update.

1. One MNIST-sized epoch (60 000 × 784 synthetic inputs, batch 100 → 600 steps, Adam) of
   LeNet-300-100 at 5 % density (ERK masks): with RigL / SET updating every ΔT = 100 steps
   ("ours") vs the same masked net without updates ("baseline"). Our target is
   ≤ 15 % overhead, i.e. ratio ≥ 0.87.
2. One mask update of the same net: our vectorised update vs a reference that loops over the
   layers in Python and builds each mask element by element (same drop / regrow rule).
"""

from __future__ import annotations

import copy
import random

import torch
from common import bench_parser, measure, repeats_of, report
from torch.utils.data import DataLoader, TensorDataset

from hiddenstruct.nn import MaskedDeepFFN
from hiddenstruct.sparse_training import SET, RigL, init_sparse_masks
from hiddenstruct.training import seed_everything, torch_threads, train
from hiddenstruct.training.loop import StepContext, _default_loss


def make_problem(n: int, seed: int = 0) -> tuple[DataLoader, MaskedDeepFFN]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 784, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    seed_everything(seed)
    net = MaskedDeepFFN(784, 10, [300, 100])
    init_sparse_masks(net, 0.05, "erdos_renyi", seed=seed)
    return DataLoader(TensorDataset(x, y), batch_size=100), net


def run_epoch(net: MaskedDeepFFN, loader: DataLoader, method: str | None) -> None:
    net = copy.deepcopy(net)
    hooks = []
    if method == "rigl":  # stop after the epoch so every update of this epoch runs
        hooks = [RigL(net, update_every=100, stop_step=10**9)]
    elif method == "set":
        hooks = [SET(net, update_every=100)]
    train(net, loader, epochs=1, lr=1e-3, device="cpu", progress=False, step_hooks=hooks)


def reference_set_update(layers, fraction: float, rng: random.Random) -> None:
    """SET's drop-and-grow written as Python loops over layers and elements."""
    for layer in layers:
        mask = layer.mask.reshape(-1).tolist()
        weight = layer.weight.detach().reshape(-1).tolist()
        live = [i for i, m in enumerate(mask) if m == 1.0]
        zeros = [i for i, m in enumerate(mask) if m == 0.0]
        k = min(round(fraction * len(live)), len(zeros))
        drop = sorted(live, key=lambda i: abs(weight[i]))[:k]
        grow = rng.sample(zeros, k)
        new = list(mask)
        for i in drop:
            new[i] = 0.0
        for i in grow:
            new[i] = 1.0
        flat = torch.zeros(len(new))
        for i, value in enumerate(new):
            flat[i] = value
        layer.mask.copy_(flat.reshape(layer.mask.shape))


def main() -> None:
    args = bench_parser(__doc__.splitlines()[0], default_repeats=5).parse_args()
    repeats = repeats_of(args)
    n = 20_000 if args.quick else 60_000
    loader, net = make_problem(n)
    with torch_threads(1):
        for method in ("rigl", "set"):
            ours, base = [], []
            run_epoch(net, loader, method), run_epoch(net, loader, None)  # warm-up
            for _ in range(repeats):  # interleaved: load drifts affect both alike
                ours += measure(lambda m=method: run_epoch(net, loader, m), repeats=1, warmup=0)
                base += measure(lambda: run_epoch(net, loader, None), repeats=1, warmup=0)
            ratio = report(f"{method}_epoch_lenet300_100_5pct_dT100_vs_masked", ours, base)
            print(f"{method}_epoch overhead: {100 * (1 / ratio - 1):+.1f} %", flush=True)

        x, y = next(iter(loader))
        work = copy.deepcopy(net)
        set_method = SET(work, update_every=100)
        rigl_method = RigL(work, update_every=100, stop_step=10**9)
        ctx = StepContext(1, 1, work, None, [x], y, _default_loss, None)
        rng = random.Random(0)
        base = measure(lambda: reference_set_update(set_method.layers, 0.3, rng), repeats)
        ours = measure(lambda: set_method.update(0.3, ctx), repeats)
        report("set_mask_update_vs_python_elementwise", ours, base)
        ours = measure(lambda: rigl_method.update(0.3, ctx), repeats)
        report("rigl_mask_update_incl_dense_grad_vs_python_elementwise_set", ours, base)


if __name__ == "__main__":
    main()
