"""``hiddenstruct experiment <name>``: one sub-command per paper experiment.

Experiment modules register themselves by being listed in :data:`EXPERIMENT_MODULES`
(module names under :mod:`hiddenstruct.cli`); each defines ``register(experiment_subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib

# Explicit registry of experiment command modules, in help order (append yours).
EXPERIMENT_MODULES: tuple[str, ...] = (
    "experiment_priors_rnn",
    "experiment_nas",
    "experiment_prune_ffn",
    "experiment_prune_rnn",
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "experiment",
        help="run one experiment of the paper (trials stored, figures written)",
        description="Run one experiment of the paper. Trials are stored in the SQLite store "
        "(--store) and skipped when already done; see `hiddenstruct experiment NAME --help`.",
    )
    experiments = parser.add_subparsers(dest="experiment_name", metavar="NAME")
    for name in EXPERIMENT_MODULES:
        importlib.import_module(f"hiddenstruct.cli.{name}").register(experiments)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
