"""Data pipeline costs: Reber generation and batching, MNIST loading.

* ``reber_generate_25k``: the paper's dataset (25 000 strings, hard + random negatives,
  stratified split) vs. a naive baseline that draws negatives by rejection (uniform random
  strings over the alphabet until one is out of the grammar) and splits with
  ``sklearn.model_selection.train_test_split``.
* ``reber_collate_epoch``: collating one epoch of 18 750 strings in batches of 32 with
  ``reber_collate`` (one scatter into a padded matrix) vs. a baseline collate padding Python
  lists (the batches are built beforehand, so only the collate is timed).
* ``mnist_load_train``: ``load_mnist`` from the gzip IDX files vs. loading the same arrays
  from an uncompressed ``.npy`` cache (is a cache worth it?). Needs ../shared/data; skipped
  when absent.

Prints ``name: ours X s, baseline Y s, ratio R`` (medians) via ``benchmarks/common.py``.
Run: ``python benchmarks/bench_data.py [--quick] [--repeats R]``.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import numpy as np
import torch

from hiddenstruct.data.mnist import load_mnist
from hiddenstruct.data.reber import ALPHABET, generate_reber_dataset, is_reber, sample_reber
from hiddenstruct.data.reber_torch import ReberTorchDataset, reber_collate

try:
    from common import bench_parser, measure, repeats_of, report
except ImportError:  # run from the repository root as a module path
    from benchmarks.common import bench_parser, measure, repeats_of, report

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def naive_reber(n: int, seed: int) -> tuple[list[str], list[int], list[str], list[int]]:
    """Baseline: positives by walks, negatives by rejection of uniform strings, sklearn split."""
    from sklearn.model_selection import train_test_split

    rng = random.Random(seed)
    positives = [sample_reber(rng) for _ in range(n - n // 2)]
    negatives = []
    while len(negatives) < n // 2:
        candidate = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(5, 12)))
        if not is_reber(candidate):
            negatives.append(candidate)
    strings = positives + negatives
    labels = [1] * len(positives) + [0] * len(negatives)
    tr_s, te_s, tr_y, te_y = train_test_split(
        strings, labels, test_size=0.25, stratify=labels, random_state=seed
    )
    return tr_s, tr_y, te_s, te_y


def naive_collate(batch):
    """Baseline: pad Python lists, then build tensors."""
    codes = [item[0].tolist() for item in batch]
    width = max(map(len, codes))
    padded = torch.tensor([c + [0] * (width - len(c)) for c in codes], dtype=torch.long)
    lengths = torch.tensor([len(c) for c in codes], dtype=torch.long)
    labels = torch.tensor([int(item[1]) for item in batch], dtype=torch.long)
    return padded, lengths, labels


def epoch(batches, collate) -> int:
    total = 0
    for batch in batches:
        total += int(collate(batch)[0].shape[0])
    return total


def main() -> None:
    args = bench_parser(__doc__.splitlines()[0], default_repeats=7).parse_args()
    repeats = repeats_of(args)

    # i.i.d. draws like the naive baseline (the default is unique strings since 0.2.0)
    ours = measure(lambda: generate_reber_dataset(25_000, seed=0, unique=False), repeats)
    base = measure(lambda: naive_reber(25_000, seed=0), repeats)
    report("reber_generate_25k", ours, base)

    train = ReberTorchDataset.from_dataset(generate_reber_dataset(25_000, seed=0), "train")
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            reber_collate([train[0], train[1]]), naive_collate([train[0], train[1]]), strict=True
        )
    )
    batches = [
        [train[i] for i in range(b, min(b + 32, len(train)))] for b in range(0, len(train), 32)
    ]
    ours = measure(lambda: epoch(batches, reber_collate), repeats)
    base = measure(lambda: epoch(batches, naive_collate), repeats)
    report("reber_collate_epoch", ours, base)

    mnist = SHARED / "mnist"
    if not (mnist / "train-images-idx3-ubyte.gz").exists():
        print(f"mnist_load_train: skipped (no MNIST in {mnist})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        images, labels = load_mnist(mnist, "train")
        np.save(Path(tmp) / "x.npy", images)
        np.save(Path(tmp) / "y.npy", labels)
        ours = measure(lambda: load_mnist(mnist, "train"), repeats)
        base = measure(
            lambda: (np.load(Path(tmp) / "x.npy"), np.load(Path(tmp) / "y.npy")), repeats
        )
        report("mnist_load_train", ours, base)


if __name__ == "__main__":
    main()
