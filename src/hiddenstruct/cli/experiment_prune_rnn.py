"""``hiddenstruct experiment prune-rnn``: percentile pruning of Reber RNNs (paper §4.2, Figures 2b, 5)."""

from __future__ import annotations

import argparse

from hiddenstruct.cli.common import (
    add_experiment_run_arguments,
    fraction,
    positive_int,
)


def register(subparsers) -> None:
    from hiddenstruct.experiments.prune_settings import RNN_MODES as MODES
    from hiddenstruct.experiments.prune_settings import RNN_SCOPES as SCOPES

    parser = subparsers.add_parser(
        "prune-rnn",
        help="prune i2h / h2h / both of Reber RNNs at p = 10..100 %%: Figures 2b and 5, summary",
        description="Per recurrent mode train Embedding → 3×50 → Linear on Reber strings (Adam 1e-3, "
        "batch 32, clip 5) until 100 %% test accuracy or --base-epochs, then prune i2h only, h2h "
        "only and both at each p (threshold: p-th percentile of |w| per tensor) from that base; "
        "record accuracy right after pruning and after each retraining epoch (up to "
        "--retrain-epochs, stopping once recovered). Trials are stored (re-running resumes). "
        "Writes points.csv, summary.csv, figure2b_both.png, figure5a_i2h.png, figure5b_h2h.png.",
    )
    parser.add_argument(
        "--modes", nargs="+", choices=MODES, default=None, help="recurrent modes (all four)"
    )
    parser.add_argument(
        "--scopes", nargs="+", choices=SCOPES, default=None, help="pruning scopes (all three)"
    )
    parser.add_argument(
        "--percents",
        nargs="+",
        type=fraction,
        default=None,
        help="fractions pruned, e.g. 0.1 0.2 ... 1.0 (default 0.1..1.0)",
    )
    parser.add_argument(
        "--n", type=positive_int, default=None, help="Reber strings (2000; paper 25000)"
    )
    parser.add_argument(
        "--hard-fraction",
        type=fraction,
        default=None,
        help="share of the negatives that are hard (one-symbol edits of valid strings) (0.5)",
    )
    parser.add_argument(
        "--hidden-sizes",
        nargs="+",
        type=positive_int,
        default=None,
        help="recurrent layer sizes (50 50 50)",
    )
    parser.add_argument(
        "--embedding-dim", type=positive_int, default=None, help="embedding size (50)"
    )
    parser.add_argument(
        "--base-epochs",
        type=positive_int,
        default=None,
        help="cap on base training epochs (10; paper 50)",
    )
    parser.add_argument(
        "--target-accuracy",
        type=fraction,
        default=None,
        help="stop base training at this test accuracy (1.0; paper preset: none)",
    )
    parser.add_argument(
        "--retrain-epochs",
        type=int,
        default=None,
        help="cap on retraining epochs per pruning level (2; paper preset 5)",
    )
    parser.add_argument(
        "--tolerance",
        type=fraction,
        default=None,
        help="accuracy drop still counted as tolerated / recovered (0.01)",
    )
    parser.add_argument("--lr", type=float, default=None, help="Adam learning rate (1e-3)")
    parser.add_argument("--batch-size", type=positive_int, default=None, help="batch size (32)")
    parser.add_argument("--repeats", type=positive_int, default=None, help="seeds per mode (1)")
    parser.add_argument("--seed", type=int, default=None, help="first seed (0)")
    parser.add_argument(
        "--preset",
        choices=("small", "paper"),
        default="small",
        help="small CPU defaults or the paper's (25000 strings, 50 base epochs)",
    )
    add_experiment_run_arguments(parser, "prune-rnn")
    parser.set_defaults(func=run)


_FIELDS = (
    "modes",
    "scopes",
    "percents",
    "n",
    "hard_fraction",
    "hidden_sizes",
    "embedding_dim",
    "base_epochs",
    "target_accuracy",
    "retrain_epochs",
    "tolerance",
    "lr",
    "batch_size",
    "repeats",
    "seed",
)


def run(args: argparse.Namespace) -> int:
    from hiddenstruct.experiments.executors import make_executor
    from hiddenstruct.experiments.outcome import sweep_exit_code
    from hiddenstruct.experiments.prune_rnn import PruneRNNConfig, run_prune_rnn
    from hiddenstruct.experiments.store import TrialStore

    overrides = {f: getattr(args, f) for f in _FIELDS if getattr(args, f) is not None}
    for key in ("modes", "scopes", "percents", "hidden_sizes"):
        if key in overrides:
            overrides[key] = tuple(overrides[key])
    config = (
        PruneRNNConfig.paper(**overrides) if args.preset == "paper" else PruneRNNConfig(**overrides)
    )
    config.validate()
    executor = make_executor(args.executor, args.workers, args.ray_address)
    store = TrialStore(args.store)
    written = run_prune_rnn(config, store, args.output, executor)
    for label, path in written.items():
        print(f"{label}: {path}")
    return sweep_exit_code(store, written)
