"""``hiddenstruct experiment nas``: genetic NAS with architectural performance prediction (§4.4)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hiddenstruct.cli.common import (
    add_experiment_run_arguments,
    fraction,
    positive_int,
)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from err
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


# (option, NasConfig field, type, help) for the settings that map one-to-one.
_OPTIONS: tuple[tuple[str, str, object, str], ...] = (
    ("--population", "population", positive_int, "candidates per generation (small 10, paper 30)"),
    (
        "--generations",
        "generations",
        positive_int,
        "generations incl. the initial random one (small 5, paper 20)",
    ),
    ("--mutation", "mutation_probability", fraction, "mutation probability (0.5)"),
    ("--crossover", "crossover_probability", fraction, "crossover probability (0)"),
    (
        "--remove-worst",
        "remove_worst_probability",
        fraction,
        "per-slot probability of re-sampling one more worst candidate (0.1)",
    ),
    (
        "--estimation-fraction",
        "estimation_fraction",
        fraction,
        "share of new candidates estimated by the predictor instead of trained (0.5)",
    ),
    (
        "--min-measured",
        "min_measured",
        positive_int,
        "trained candidates needed before the predictor is used (small 10, paper 30)",
    ),
    (
        "--min-depth",
        "min_depth",
        positive_int,
        "smallest genotype depth in layers, input and output included (6)",
    ),
    ("--max-depth", "max_depth", positive_int, "largest depth of sampled genotypes (12)"),
    ("--random-min-depth", "random_min_depth", positive_int, "random search: smallest depth (10)"),
    ("--random-max-depth", "random_max_depth", positive_int, "random search: largest depth (36)"),
    (
        "--max-channels",
        "max_channels",
        positive_int,
        "cap on channels after a concatenation (small 64, paper 256)",
    ),
    ("--epochs", "epochs", positive_int, "training epochs per candidate (small 3, paper 10)"),
    ("--batch-size", "batch_size", positive_int, "batch size (32)"),
    ("--lr", "lr", _positive_float, "Adam learning rate (0.01)"),
    (
        "--train-subset",
        "train_subset",
        positive_int,
        "train on the first N images of a seeded shuffle (all)",
    ),
    ("--val-subset", "val_subset", positive_int, "validate on the first N held-out images (all)"),
    (
        "--val-fraction",
        "val_fraction",
        fraction,
        "share of the training images held out for validation (0.1)",
    ),
    (
        "--time-budget",
        "time_budget",
        _positive_float,
        "seconds per search (training time + overhead); none by default",
    ),
    (
        "--predictor",
        "predictor",
        str,
        "regressor: random_forest, bayesian_ridge, ada_boost (random_forest)",
    ),
    ("--seed", "seed", int, "seed of sampling, operators, data split and training (0)"),
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "nas",
        help="genetic NAS over labelled DAGs with performance prediction: Figure 8b, best accuracy over time",
        description="Genetic neural architecture search (paper §4.4) with and without architectural "
        "performance prediction, plus a random-search baseline, under the same generation budget. "
        "Every trained candidate is a stored trial (re-running resumes). Writes "
        "best_accuracy_over_time.png, figure8b_correlations.png, feature_correlations.csv, "
        "feature_importances.csv (top 10), meta_dataset.csv, candidates.csv, generations.csv, "
        "summary.json and best_genotype.{json,dot,txt,png}. Defaults are CPU-sized (digits, small "
        "channels, 3 epochs); --preset paper uses the paper's GA settings (population 30).",
    )
    parser.add_argument(
        "--dataset",
        choices=("digits", "cifar10"),
        default=None,
        help="digits (embedded 8×8, default) or cifar10 (needs --data-dir)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder holding cifar-10-batches-py (training batches only are used)",
    )
    parser.add_argument(
        "--preset",
        choices=("small", "paper"),
        default="small",
        help="base settings (default: small)",
    )
    parser.add_argument(
        "--channels",
        type=positive_int,
        nargs="+",
        default=None,
        help="conv channel counts to sample from (small: 4 8 16, paper: 16 32 64)",
    )
    parser.add_argument(
        "--searches",
        nargs="+",
        choices=("prediction", "no_prediction", "random"),
        default=None,
        help="which searches to run (all three)",
    )
    for option, dest, kind, text in _OPTIONS:
        parser.add_argument(option, dest=dest, type=kind, default=None, help=text)
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch CPU threads while training in this process (1)",
    )
    add_experiment_run_arguments(parser, "nas")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hiddenstruct.experiments.executors import make_executor
    from hiddenstruct.experiments.nas import preset, run_experiment
    from hiddenstruct.experiments.outcome import sweep_exit_code
    from hiddenstruct.experiments.store import TrialStore

    overrides = {
        dest: getattr(args, dest) for _, dest, _, _ in _OPTIONS if getattr(args, dest) is not None
    }
    if args.dataset is not None:
        overrides["dataset"] = args.dataset
    if args.data_dir is not None:
        overrides["data_dir"] = str(args.data_dir)
    if args.channels:
        overrides["channels"] = tuple(args.channels)
    if args.searches:
        overrides["searches"] = tuple(args.searches)
    config = preset(args.preset, **overrides)
    console = Console(stderr=True)

    def report(search: str, log) -> None:
        mae = "" if log.predictor_mae is None else f", predictor MAE {log.predictor_mae:.3f}"
        console.print(
            f"[bold]{search}[/bold] generation {log.generation + 1}: {log.measured} trained, "
            f"{log.estimated} estimated, best accuracy {log.best_measured:.3f}, {log.elapsed:.1f} s{mae}"
        )

    executor = make_executor(args.executor, args.workers, args.ray_address)
    _, written = run_experiment(
        config, args.output, (store := TrialStore(args.store)), executor, report, True, args.threads
    )
    out = Console()
    for label, value in written.items():
        out.print(f"{label}: {value}")
    return sweep_exit_code(store, written)
