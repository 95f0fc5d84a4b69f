"""Overhead of the training loop: hiddenstruct.training.train vs a minimal hand-written loop.

Both train the same MLP on the same batches with Adam for the same number of epochs; ours
also tracks loss/accuracy, handles devices, callbacks and early stopping. A ratio near 1
means the bookkeeping costs nothing noticeable.
"""

from __future__ import annotations

import copy

import torch
from common import bench_parser, measure, repeats_of, report
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hiddenstruct.training import seed_everything, torch_threads, train
from hiddenstruct.training.optim import make_optimizer


def make_problem(n: int, features: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    y = (x[:, : features // 2].sum(1) > 0).long()
    seed_everything(seed)
    model = nn.Sequential(
        nn.Linear(features, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2)
    )
    return DataLoader(TensorDataset(x, y), batch_size=64, shuffle=False), model


def minimal_loop(model: nn.Module, loader: DataLoader, epochs: int) -> None:
    opt = make_optimizer("adam", model.parameters(), 1e-3)
    for _ in range(epochs):
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def main() -> None:
    args = bench_parser(__doc__.splitlines()[0], default_repeats=5).parse_args()
    repeats = repeats_of(args)
    n, epochs = (2048, 1) if args.quick else (8192, 2)
    loader, model = make_problem(n, 64)
    run_ours = lambda: train(  # noqa: E731
        copy.deepcopy(model), loader, epochs=epochs, lr=1e-3, device="cpu", progress=False
    )
    run_base = lambda: minimal_loop(copy.deepcopy(model), loader, epochs)  # noqa: E731
    ours, base = [], []
    with torch_threads(1):
        run_ours(), run_base()  # warm-up: first calls pay one-time initialisation
        for _ in range(repeats):  # interleaved, so machine load drifts affect both alike
            ours += measure(run_ours, repeats=1, warmup=0)
            base += measure(run_base, repeats=1, warmup=0)
    report(f"train_loop_mlp_{n}x{epochs}ep_vs_minimal_loop", ours, base)


if __name__ == "__main__":
    main()
