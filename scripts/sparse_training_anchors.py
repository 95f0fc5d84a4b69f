"""Measure the sparse-training anchors (docs/sparse-training.md): LeNet-300-100 on MNIST at a fixed density, per method.

Trains LeNet-300-100 (ReLU, no LayerNorm) on all 60 000 MNIST training images and reports
the test error on the 10 000 test images, for static ERK masks, SET, RigL and sparse
momentum, over several seeds. Optimiser as in Dettmers & Zettlemoyer's published code
(SGD, lr 0.1, Nesterov momentum 0.9, weight decay 5e-4, batch 100) but for ``--epochs``
epochs (theirs: 100, with a ×0.1 step at step 25 000) and, our choice for the short budget,
the learning rate cosine-annealed to 0 over the run (per epoch).

    PYTHONPATH=src python scripts/sparse_training_anchors.py --data-dir ../shared/data \\
        --epochs 10 --seeds 0 1 2 --out /tmp/anchors.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from hiddenstruct.data.mnist import load_mnist
from hiddenstruct.nn import MaskedDeepFFN
from hiddenstruct.sparse_training import StructureTracker, init_sparse_masks, make_method
from hiddenstruct.training import evaluate, seed_everything, torch_threads, train


def tensors(data_dir: str, split: str) -> TensorDataset:
    images, labels = load_mnist(data_dir, split)
    x = (torch.from_numpy(images.astype(np.float32)) / 255.0 - 0.1307) / 0.3081
    return TensorDataset(x.reshape(len(x), -1), torch.from_numpy(labels))


def run(method: str, seed: int, args, train_set, test_set) -> dict:
    seed_everything(seed)
    net = MaskedDeepFFN(784, 10, [300, 100])
    init_sparse_masks(net, args.density, "erdos_renyi", seed=seed)
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(train_set, batch_size=100, shuffle=True, generator=g)
    steps = len(loader)
    tracker = StructureTracker(net, every=1)
    hooks = []
    if method == "set":
        hooks = [make_method("set", net, update_every=100, fraction=0.3, seed=seed)]
    elif method == "rigl":
        hooks = [make_method("rigl", net, update_every=100, fraction=0.3, seed=seed)]
    elif method == "sparse_momentum":  # once per epoch, death rate 0.5 cosine-decayed
        hooks = [make_method("sparse_momentum", net, update_every=steps, fraction=0.5, seed=seed)]
    start = time.perf_counter()
    history = train(
        net,
        loader,
        epochs=args.epochs,
        optimizer="sgd",
        lr=0.1,
        optimizer_options={"momentum": 0.9, "nesterov": True, "weight_decay": 5e-4},
        step_hooks=hooks,
        scheduler=lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs),
        progress=False,
        device="cpu",
    )
    seconds = time.perf_counter() - start
    for hook in hooks:
        if hasattr(hook, "close"):
            hook.close()
    test = evaluate(net, DataLoader(test_set, batch_size=1000), "cpu")
    final = tracker.record(step=steps * args.epochs)
    return {
        "method": method,
        "seed": seed,
        "epochs": args.epochs,
        "density": final["xi"],
        "test_error": 1.0 - test.accuracy,
        "train_loss": history.final.train_loss,
        "seconds": seconds,
        "updates": hooks[0].updates if hooks else 0,
        "structure": final,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", required=True, help="folder holding mnist/ (or the idx files)"
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--density", type=float, default=0.05)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--methods", nargs="+", default=["static", "set", "rigl", "sparse_momentum"]
    )
    parser.add_argument("--out", required=True, help="JSON file for the per-run results")
    args = parser.parse_args()
    train_set, test_set = tensors(args.data_dir, "train"), tensors(args.data_dir, "test")
    rows = []
    with torch_threads(1):
        for seed in args.seeds:
            for method in args.methods:
                row = run(method, seed, args, train_set, test_set)
                rows.append(row)
                print(
                    f"{method} seed {seed}: test error {100 * row['test_error']:.2f} %, "
                    f"density {row['density']:.4f}, {row['seconds']:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
                with open(args.out, "w") as f:
                    json.dump(rows, f, indent=1)
    for method in args.methods:
        errors = [100 * r["test_error"] for r in rows if r["method"] == method]
        std = statistics.stdev(errors) if len(errors) > 1 else float("nan")
        print(f"{method}: test error {statistics.mean(errors):.2f} ± {std:.2f} % (n={len(errors)})")


if __name__ == "__main__":
    main()
