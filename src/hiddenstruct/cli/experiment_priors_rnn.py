"""``hiddenstruct experiment priors-rnn``: random graphs as recurrent structural priors (§4.3)."""

from __future__ import annotations

import argparse

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


def register(subparsers) -> None:
    from hiddenstruct.experiments.priors_rnn import PRESETS

    parser = subparsers.add_parser(
        "priors-rnn",
        help="random graphs (WS/BA/ER) as recurrent priors on Reber: Figure 7, Table 1, R²",
        description="Sample random graphs, build a GraphRNN classifier per graph and mode, train "
        "on the Reber grammar (many graphs packed into one model, each trained as if alone), "
        "store one trial per (graph, mode) and write: meta_dataset.csv, figure7.png, "
        "table1_correlations.csv, r2.csv, importances.csv, family_summary.csv. "
        "Defaults are the 'small' preset (minutes); --preset paper gives the paper's settings "
        "(2 × 100 graphs, n in [10, 50], 4 modes, 15 epochs, 25 000 strings). Options given "
        "explicitly override the preset. Re-running skips finished (graph, mode) trials.",
    )
    parser.add_argument(
        "--preset", choices=sorted(PRESETS), default="small", help="base settings (default: small)"
    )
    parser.add_argument("--families", nargs="+", help="graph families: ws, ba, er (preset: ws ba)")
    parser.add_argument(
        "--count", type=positive_int, help="graphs per family (small: 8, paper: 100)"
    )
    parser.add_argument("--n-min", type=positive_int, help="fewest vertices per graph (10)")
    parser.add_argument(
        "--n-max", type=positive_int, help="most vertices per graph (small: 20, paper: 50)"
    )
    parser.add_argument(
        "--modes", nargs="+", help="RNN_TANH RNN_RELU LSTM GRU (small: GRU, paper: all)"
    )
    parser.add_argument("--epochs", type=positive_int, help="training epochs (small: 3, paper: 15)")
    parser.add_argument("--batch-size", type=positive_int, help="batch size (128)")
    parser.add_argument("--lr", type=_positive_float, help="Adam learning rate (1e-3)")
    parser.add_argument(
        "--clip",
        dest="clip_grad_norm",
        type=_positive_float,
        help="per-graph gradient norm clipping (5)",
    )
    parser.add_argument(
        "--reber-n",
        type=positive_int,
        help="Reber strings, train + test (small: 4000, paper: 25000)",
    )
    parser.add_argument(
        "--hard-fraction", type=fraction, help="share of hard (one-edit) negatives (0.5)"
    )
    parser.add_argument(
        "--test-fraction", type=fraction, help="held-out share of the strings (0.25)"
    )
    parser.add_argument("--seed", type=int, help="graph sampling, data and shuffle seed (0)")
    parser.add_argument(
        "--pack-size", type=positive_int, help="graphs trained together in one packed model (8)"
    )
    parser.add_argument("--threads", type=positive_int, help="torch CPU threads per worker (1)")
    parser.add_argument(
        "--orientation",
        choices=("labels", "random"),
        help="edge orientation: labels (ascending, default) or random (seeded per graph)",
    )
    add_experiment_run_arguments(parser, "priors-rnn")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hiddenstruct.experiments.executors import make_executor
    from hiddenstruct.experiments.outcome import sweep_exit_code
    from hiddenstruct.experiments.priors_rnn import preset, run_experiment
    from hiddenstruct.experiments.store import TrialStore

    overrides = {
        name: getattr(args, name)
        for name in (
            "count", "n_min", "n_max", "epochs", "batch_size", "lr", "clip_grad_norm", "reber_n",
            "hard_fraction", "test_fraction", "seed", "pack_size",
            "orientation", "threads",
        )
    }  # fmt: skip
    if args.families:
        overrides["families"] = tuple(args.families)
    if args.modes:
        overrides["modes"] = tuple(args.modes)
    config = preset(args.preset, **overrides)
    executor = make_executor(args.executor, args.workers, args.ray_address)
    store = TrialStore(args.store)
    written = run_experiment(config, store, args.output, executor)
    console = Console()
    for label, value in written.items():
        console.print(f"{label}: {value}")
    return sweep_exit_code(store, written)
