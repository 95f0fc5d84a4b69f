"""``hiddenstruct experiment prune-ffn``: five pruning methods on MLPs (paper §4.1, Figure 2a)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hiddenstruct.cli.common import (
    add_experiment_run_arguments,
    fraction,
    positive_int,
)


def _architecture(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split("-"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"expected hidden sizes like 300-100, got {text!r}"
        ) from err
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"hidden sizes must be positive, got {text!r}")
    return sizes


def register(subparsers) -> None:
    from hiddenstruct.experiments.prune_settings import METHODS, SCHEDULE_NAMES

    parser = subparsers.add_parser(
        "prune-ffn",
        help="prune MLPs with five methods: Figure 2a and accuracy table at 50-95 %% removed",
        description="Train ReLU MLPs (hidden 100 and 300-100) on digits (default) or MNIST "
        "(--dataset mnist --data-dir DIR), then prune iteratively with random, magnitude "
        "class-blinded / class-uniform / class-distributed and Optimal Brain Damage, with and "
        "without retraining after each step. Trials are stored (re-running resumes). Writes "
        "curves.csv, table.csv and figure2a_<arch>_<schedule>.png into --output.",
    )
    parser.add_argument(
        "--dataset",
        choices=("digits", "mnist"),
        default="digits",
        help="digits (embedded 8×8, default) or mnist (needs --data-dir)",
    )
    parser.add_argument("--data-dir", default=None, help="folder holding the MNIST IDX files")
    parser.add_argument(
        "--architectures",
        nargs="+",
        type=_architecture,
        default=None,
        metavar="SIZES",
        help="hidden sizes per MLP, e.g. 100 300-100 (default both)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=tuple(METHODS),
        default=None,
        help="pruning methods (default all five)",
    )
    parser.add_argument(
        "--schedules",
        nargs="+",
        choices=SCHEDULE_NAMES,
        default=None,
        help="relative (p of remaining per step) and/or fixed_size (default relative)",
    )
    parser.add_argument(
        "--relative-p",
        type=fraction,
        default=None,
        help="fraction of the remaining weights pruned per relative step (0.2)",
    )
    parser.add_argument(
        "--fixed-fraction",
        type=fraction,
        default=None,
        help="fixed-size step as a fraction of all weights (0.05)",
    )
    parser.add_argument(
        "--max-zero-fraction",
        type=fraction,
        default=None,
        help="stop once this fraction of weights is removed (0.95)",
    )
    parser.add_argument(
        "--retrain",
        choices=("both", "yes", "no"),
        default="both",
        help="retrain after each step: both variants (default), only yes, only no",
    )
    parser.add_argument(
        "--retrain-epochs",
        type=positive_int,
        default=None,
        help="retraining epochs after each pruning step (1)",
    )
    parser.add_argument(
        "--repeats", type=positive_int, default=None, help="seeds per setting (2; paper preset 5)"
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help="base training epochs (30; paper preset: up to 200 with early stop)",
    )
    parser.add_argument(
        "--optimizer", choices=("adam", "sgd"), default=None, help="base optimizer (adam)"
    )
    parser.add_argument("--lr", type=float, default=None, help="learning rate (1e-3; paper 0.01)")
    parser.add_argument("--batch-size", type=positive_int, default=None, help="batch size (64)")
    parser.add_argument(
        "--obd-samples",
        type=positive_int,
        default=None,
        help="training samples for the OBD Hessian diagonal (1000)",
    )
    parser.add_argument(
        "--obd-method",
        choices=("auto", "exact", "hutchinson", "fisher"),
        default=None,
        help="OBD Hessian diagonal: exact closed form (auto for MLPs), Hutchinson, Fisher",
    )
    parser.add_argument(
        "--train-subset",
        type=positive_int,
        default=None,
        help="train on the first N training images of a seeded shuffle (all)",
    )
    parser.add_argument(
        "--preset",
        choices=("small", "paper"),
        default="small",
        help="small CPU defaults, or the paper's (SGD 0.01 decayed, batch 64, ≤200 epochs, 5 repeats, both schedules)",
    )
    parser.add_argument("--seed", type=int, default=None, help="first seed (0)")
    add_experiment_run_arguments(parser, "prune-ffn")
    parser.set_defaults(func=run)


_FIELDS = (
    "dataset",
    "data_dir",
    "architectures",
    "methods",
    "schedules",
    "relative_p",
    "fixed_fraction",
    "max_zero_fraction",
    "retrain_epochs",
    "repeats",
    "epochs",
    "optimizer",
    "lr",
    "batch_size",
    "obd_samples",
    "obd_method",
    "train_subset",
    "seed",
)


def run(args: argparse.Namespace) -> int:
    from hiddenstruct.experiments.executors import make_executor
    from hiddenstruct.experiments.outcome import sweep_exit_code
    from hiddenstruct.experiments.prune_ffn import run_prune_ffn
    from hiddenstruct.experiments.prune_settings import PruneFFNConfig
    from hiddenstruct.experiments.store import TrialStore

    overrides = {f: getattr(args, f) for f in _FIELDS if getattr(args, f) is not None}
    for key in ("architectures", "methods", "schedules"):
        if key in overrides:
            overrides[key] = tuple(overrides[key])
    if "data_dir" in overrides:
        overrides["data_dir"] = str(Path(overrides["data_dir"]).resolve())
    overrides["retrain"] = {"both": (False, True), "yes": (True,), "no": (False,)}[args.retrain]
    config = (
        PruneFFNConfig.paper(**overrides) if args.preset == "paper" else PruneFFNConfig(**overrides)
    )
    config.validate()
    executor = make_executor(args.executor, args.workers, args.ray_address)
    store = TrialStore(args.store)
    written = run_prune_ffn(config, store, args.output, executor)
    for label, path in written.items():
        print(f"{label}: {path}")
    return sweep_exit_code(store, written)
