"""How hard is each Reber negatives protocol? Test accuracy of fixed, small baselines.

For every protocol (mix = 0.1.0 default, hard, random, authors; i.i.d. and unique) at the
paper's size it prints the train/test overlap and the test accuracy of

* ``letters``: logistic regression on letter counts (a bag of symbols: no order at all);
* ``trigram``: logistic regression on character 1–3-gram counts;
* ``gru``: the paper's base model (embedding 50 → 3 × GRU 50 → linear; masked layers as in
  prune-rnn), Adam lr 1e-3, batch 32, for a fixed budget of ``--epochs`` epochs.

Run: ``PYTHONPATH=src python benchmarks/bench_reber_protocols.py [--quick] [--epochs 1]``.
Accuracies are measured, single seed; differences below about 1 point are noise.
"""

from __future__ import annotations

import argparse
import time

import torch

from hiddenstruct.data.reber import generate_reber_dataset, train_test_overlap

PROTOCOLS = (
    ("mix", False),
    ("mix", True),
    ("hard", False),
    ("hard", True),
    ("random", True),
    ("authors", True),
)


def ngram_accuracy(dataset, ngram_range: tuple[int, int]) -> float:
    """Test accuracy of logistic regression on character n-gram counts."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    train_x, train_y = dataset.split("train")
    test_x, test_y = dataset.split("test")
    vectorizer = CountVectorizer(analyzer="char", ngram_range=ngram_range, lowercase=False)
    features = vectorizer.fit_transform(train_x)
    model = LogisticRegression(max_iter=2000).fit(features, train_y)
    return float(model.score(vectorizer.transform(test_x), test_y))


def gru_accuracy(dataset, epochs: int, seed: int) -> float:
    """Test accuracy of the paper's base GRU after ``epochs`` epochs."""
    from torch.utils.data import DataLoader

    from hiddenstruct.data.reber_torch import VOCAB_SIZE, ReberTorchDataset, reber_collate
    from hiddenstruct.nn import MaskedRNN, SequenceClassifier
    from hiddenstruct.training import evaluate, train

    torch.manual_seed(seed)
    train_ds = ReberTorchDataset.from_dataset(dataset, "train")
    test_ds = ReberTorchDataset.from_dataset(dataset, "test")
    loader = DataLoader(
        train_ds,
        batch_size=32,
        shuffle=True,
        collate_fn=reber_collate,
        generator=torch.Generator().manual_seed(seed),
    )
    test_loader = DataLoader(test_ds, batch_size=512, collate_fn=reber_collate)
    model = SequenceClassifier(
        MaskedRNN(50, [50, 50, 50], "GRU"), vocab_size=VOCAB_SIZE, num_classes=2
    )
    train(model, loader, epochs=epochs, lr=1e-3, clip_grad_norm=5.0, progress=False)
    return evaluate(model, test_loader, "cpu").accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 2000 instead of 25 000")
    parser.add_argument("--epochs", type=int, default=1, help="GRU training epochs (default 1)")
    parser.add_argument("--no-gru", action="store_true", help="only the n-gram baselines")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    n = 2000 if args.quick else 25_000
    print(f"n = {n}, seed {args.seed}, GRU epochs {args.epochs}", flush=True)
    print("protocol | unique | test∩train | letters | trigram | gru | gru s", flush=True)
    for negatives, unique in PROTOCOLS:
        ds = generate_reber_dataset(n, seed=args.seed, negatives=negatives, unique=unique)
        overlap = train_test_overlap(ds)["test_in_train"]
        letters = ngram_accuracy(ds, (1, 1))
        trigram = ngram_accuracy(ds, (1, 3))
        gru, seconds = float("nan"), float("nan")
        if not args.no_gru:
            start = time.perf_counter()
            gru = gru_accuracy(ds, args.epochs, args.seed)
            seconds = time.perf_counter() - start
        print(
            f"{negatives} | {unique} | {overlap:.1%} | {letters:.3f} | {trigram:.3f} | "
            f"{gru:.3f} | {seconds:.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
