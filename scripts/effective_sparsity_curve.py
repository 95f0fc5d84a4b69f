"""Nominal vs effective ξ of a pruned LeNet-300-100 from 90 % to 99.9 % of weights removed.

Trains LeNet-300-100 (``hiddenstruct.zoo.lenet_300_100``: 784-300-100-10, ReLU) on MNIST
(``--data``, default /work/shared/data; seeded Adam, lr 1e-3, batch 128, ``--epochs`` 2), then
prunes copies of it once, globally over the three weight matrices (``class_blinded``), by
``random`` (seeds 0, 1, 2) and by ``magnitude``, to each removed fraction, and prints per
method and fraction: nominal ξ (fraction of weights live), effective ξ (fraction on an
input→output path, :func:`hiddenstruct.graphs.effective_sparsity`), their ratio, and the
test accuracy of the pruned net without retraining. For random pruning the three seeds'
effective ξ are printed as median [min, max].

Run: ``PYTHONPATH=src python scripts/effective_sparsity_curve.py [--epochs 2] [--data DIR]``.
"""

from __future__ import annotations

import argparse
import copy
import statistics

import numpy as np
import torch

from hiddenstruct.data.mnist import load_mnist
from hiddenstruct.graphs import effective_sparsity
from hiddenstruct.pruning import prune
from hiddenstruct.zoo import lenet_300_100

REMOVED = (0.90, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999)


def tensors(data_dir: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_mnist(data_dir, split)
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return (x - 0.1307) / 0.3081, torch.from_numpy(labels)


def train(model, x, y, epochs: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), 128):
            batch = order[start : start + 128]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()


@torch.no_grad()
def accuracy(model, x, y) -> float:
    return float((model(x).argmax(1) == y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/shared/data", help="folder holding mnist/")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    x_train, y_train = tensors(args.data, "train")
    x_test, y_test = tensors(args.data, "test")
    dense = lenet_300_100(seed=0)
    train(dense, x_train, y_train, args.epochs, seed=0)
    print(f"dense test accuracy {accuracy(dense, x_test, y_test):.4f}")
    probe = torch.zeros(1, 1, 28, 28)
    print(
        f"{'method':<9} {'removed':>8} {'ξ nominal':>10} {'ξ effective':>27} "
        f"{'eff/nom':>8} {'test acc':>9}"
    )
    for method, seeds in (("random", (0, 1, 2)), ("magnitude", (0,))):
        for removed in REMOVED:
            nominal, effective, accs = [], [], []
            for seed in seeds:
                model = copy.deepcopy(dense)
                prune(model, method, "class_blinded", amount=removed, seed=seed)
                report = effective_sparsity(model, probe).total
                nominal.append(report.nominal_fraction)
                effective.append(report.effective_fraction)
                accs.append(accuracy(model, x_test, y_test))
            spread = (
                f"{statistics.median(effective):.6f} [{min(effective):.6f}, {max(effective):.6f}]"
                if len(seeds) > 1
                else f"{effective[0]:.6f}"
            )
            ratio = statistics.median(effective) / statistics.median(nominal)
            print(
                f"{method:<9} {removed:>8.3f} {statistics.median(nominal):>10.6f} {spread:>27} "
                f"{ratio:>8.3f} {statistics.median(accs):>9.4f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
