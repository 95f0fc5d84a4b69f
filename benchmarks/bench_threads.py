"""Torch CPU threads for the experiments' small models: one thread vs torch's default.

Trains the models of the demo's trials — the digits MLP 64-100-10 of prune-ffn and the
Reber GRU (8 → 16 → 16) of prune-rnn — for a few epochs with 1 thread (ours: every
experiment's ``--threads`` default) and with torch's default (one per core), the repeats
interleaved so both see the same load. Run it on the machine whose default you want to
judge, and note its load (``uptime``): on a busy machine spinning threads wait for cores.

    python benchmarks/bench_threads.py [--quick]
"""

from __future__ import annotations

import os
import time

import torch
from common import bench_parser, measure_interleaved, repeats_of, report
from torch.utils.data import DataLoader

from hiddenstruct.data.images import load_image_dataset
from hiddenstruct.data.reber import generate_reber_dataset
from hiddenstruct.experiments.reber_inputs import reber_loaders
from hiddenstruct.nn import MaskedDeepFFN, MaskedRNN, SequenceClassifier
from hiddenstruct.training import seed_everything, torch_threads, train


def digits_job(epochs: int):
    data = load_image_dataset("digits", None, "train", flatten=True, seed=0)

    def run() -> None:
        seed_everything(0)
        loader = DataLoader(data, batch_size=128, shuffle=True)
        train(MaskedDeepFFN(64, 10, [100]), loader, epochs=epochs, lr=3e-3, progress=False)

    return run


def reber_job(epochs: int, n: int):
    loader, _ = reber_loaders(generate_reber_dataset(n, 0), 32, test_batch_size=512, shuffle_seed=0)

    def run() -> None:
        seed_everything(0)
        model = SequenceClassifier(MaskedRNN(8, [16, 16], "GRU"))
        train(model, loader, epochs=epochs, lr=1e-2, clip_grad_norm=5.0, progress=False)

    return run


def threaded(job, threads: int | None):
    def run() -> None:
        with torch_threads(threads):
            job()

    return run


def main() -> None:
    args = bench_parser(__doc__.splitlines()[0]).parse_args()
    repeats = repeats_of(args)
    epochs = 2 if args.quick else 5
    default = torch.get_num_threads()
    load = os.getloadavg()[0]
    print(f"cores {os.cpu_count()}, torch default threads {default}, load {load:.2f}")
    jobs = {
        "digits MLP": digits_job(epochs),
        "Reber GRU": reber_job(epochs, 600 if args.quick else 1200),
    }
    for name, job in jobs.items():
        cpu = time.process_time()
        times = measure_interleaved(
            {"one": threaded(job, 1), "default": threaded(job, default)}, repeats=repeats
        )
        report(f"{name}, {epochs} epochs: 1 thread vs {default}", times["one"], times["default"])
        print(
            f"  CPU seconds of the run: {time.process_time() - cpu:.1f}, load {os.getloadavg()[0]:.2f}"
        )


if __name__ == "__main__":
    main()
