"""L-OBS against magnitude and OBD on MNIST LeNet-300-100, without retraining (docs/pruning.md).

Trains LeNet-300-100 (ReLU; Adam lr 1e-3, batch 64, ``--epochs`` epochs — the ``small``
prune-ffn settings, our choice for a short CPU run) once per seed, then prunes a copy of the
trained model *once* to each removed fraction (80 / 90 / 95 % of all weights by default)
with each method and reports the test accuracy of the pruned model as it is, no retraining.
OBD (exact Hessian diagonal) and L-OBS (layer input Hessians) read the same
``--calibration`` first training images. Prints a table (mean over seeds) and writes the
per-run rows to ``--out`` when given.

    PYTHONPATH=src python scripts/lobs_mnist.py --data-dir /work/shared/data/mnist --seeds 0 1
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import torch
from torch.utils.data import DataLoader, Subset

from hiddenstruct.data.images import load_image_dataset
from hiddenstruct.nn import MaskedDeepFFN
from hiddenstruct.pruning import prune
from hiddenstruct.training import evaluate, seed_everything, torch_threads, train

#: label → (criterion, selection, criterion options)
METHODS = {
    "magnitude (class-blinded)": ("magnitude", "class_blinded", {}),
    "magnitude (class-uniform)": ("magnitude", "class_uniform", {}),
    "OBD (class-blinded)": ("obd", "class_blinded", {"method": "exact"}),
    "L-OBS (class-blinded)": ("lobs", "class_blinded", {}),
    "L-OBS (class-uniform)": ("lobs", "class_uniform", {}),
}


def base_model(seed: int, epochs: int, train_set) -> MaskedDeepFFN:
    seed_everything(seed)
    net = MaskedDeepFFN(784, 10, [300, 100])
    loader = DataLoader(
        train_set, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    train(net, loader, epochs=epochs, optimizer="adam", lr=1e-3, progress=False, device="cpu")
    return net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder holding the MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--levels", type=float, nargs="+", default=[0.8, 0.9, 0.95])
    parser.add_argument(
        "--calibration", type=int, default=1000, help="training images for OBD/L-OBS"
    )
    parser.add_argument("--out", help="JSON file for the per-run rows")
    args = parser.parse_args()
    train_set = load_image_dataset("mnist", args.data_dir, "train", flatten=True)
    test_set = load_image_dataset("mnist", args.data_dir, "test", flatten=True)
    calibration = DataLoader(Subset(train_set, range(args.calibration)), batch_size=250)
    test = DataLoader(test_set, batch_size=1000)
    rows = []
    with torch_threads(1):
        for seed in args.seeds:
            base = base_model(seed, args.epochs, train_set)
            dense = evaluate(base, test, "cpu").accuracy
            rows.append({"seed": seed, "method": "dense", "level": 0.0, "accuracy": dense})
            for level in args.levels:
                for label, (criterion, selection, options) in METHODS.items():
                    model = copy.deepcopy(base)
                    start = time.perf_counter()
                    report = prune(
                        model,
                        criterion,
                        selection,
                        level,
                        data=calibration,
                        criterion_options=options,
                    )
                    seconds = time.perf_counter() - start
                    accuracy = evaluate(model, test, "cpu").accuracy
                    rows.append(
                        {
                            "seed": seed,
                            "method": label,
                            "level": level,
                            "removed": report.zero_fraction_after,
                            "accuracy": accuracy,
                            "seconds": seconds,
                            "layers": [t.after / t.total for t in report.tensors],
                        }
                    )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)

    def mean(values):
        return statistics.mean(values) if values else float("nan")

    dense = mean([r["accuracy"] for r in rows if r["method"] == "dense"])
    print(
        f"LeNet-300-100, MNIST test accuracy (%) after one-shot pruning, no retraining; "
        f"seeds {args.seeds}, {args.epochs} epochs, {args.calibration} calibration images; "
        f"dense {100 * dense:.2f}"
    )
    header = " | ".join(f"{100 * level:.0f} % removed" for level in args.levels)
    print(f"| method | {header} | prune time (s, median) |")
    print("|---" * (len(args.levels) + 2) + "|")
    for label in METHODS:
        cells = []
        for level in args.levels:
            runs = [r for r in rows if r["method"] == label and r["level"] == level]
            cells.append(f"{100 * mean([r['accuracy'] for r in runs]):.2f}")
        seconds = statistics.median(r["seconds"] for r in rows if r["method"] == label)
        print(f"| {label} | {' | '.join(cells)} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
