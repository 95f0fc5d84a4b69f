"""Experiment: relational graphs (graph2nn's "graph structure of neural networks" study, docs/relational-graphs.md).

Every network's layers get block masks from a relational graph (:mod:`hiddenstruct.nn.relational`)
drawn from a WS-flex set that covers the (C, L) plane evenly
(:func:`hiddenstruct.graphs.relational.sample_graph_set`), with widths matched so each network
costs the complete graph's multiply-adds. Models: graph2nn's MLP (a dense stem, ``layers``
relational layers with BatchNorm, a dense head; digits, MNIST or CIFAR-10) and — new here — a
recurrent variant on Reber strings: the graph masks ``weight_ih`` and ``weight_hh`` of every
layer of a :class:`~hiddenstruct.nn.MaskedRNN` (any mode; each gate the same mask). One stored
trial per (model, graph, seed), the complete graph included, so a run resumes.

Settings and trials: :mod:`.config`; the trial runner: :mod:`.trial`.
Outputs (:mod:`.outputs`): ``results.csv``, ``graphs.csv`` (mean ± std error
per graph), ``sweet_spot.json`` (graph2nn's one-sided t-test against the best graph, the
complete graph beside the best), ``correlations.csv``, ``r2.csv``, ``heatmap_CL_<model>.png``,
``error_vs_C_<model>.png``, ``error_vs_L_<model>.png`` and ``coverage_<model>.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hiddenstruct.experiments.base import Experiment, config_column, result_column
from hiddenstruct.experiments.relational_graphs.config import (
    DESCRIPTION,
    EXPERIMENT,
    HELP,
    MODELS,
    PRESETS,
    Config,
    RelationalGraphsConfig,
    check_widths,
    graph_set,
    trials,
)
from hiddenstruct.experiments.relational_graphs.config import (
    trials as trial_configs,  # the name ``trials`` is also the sweep's parameter
)
from hiddenstruct.experiments.relational_graphs.report_section import SECTION
from hiddenstruct.experiments.relational_graphs.trial import run_trial
from hiddenstruct.trials.config import added_defaults
from hiddenstruct.trials.executors import Executor, TrialLogger, run_trials
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.preflight import check_image_data
from hiddenstruct.trials.store import TrialRecord, TrialStore

# re-exported: the experiment's public names, one import away (settings: .config; runner: .trial)
__all__ = [
    "DESCRIPTION", "EXPERIMENT", "HELP", "MODELS", "PRESETS", "RELATIONAL_GRAPHS", "Config",
    "RelationalGraphs", "RelationalGraphsConfig", "check_widths", "graph_set", "identities",
    "run_trial", "sweep", "trials", "write_outputs",
]  # fmt: skip


def sweep(
    config: RelationalGraphsConfig,
    store: TrialStore,
    executor: Executor | None = None,
    progress: bool = True,
    trials: list[dict[str, Any]] | None = None,
) -> list[TrialRecord]:
    """Run (or resume) every trial (``trials``: :func:`.config.trials`'s list when already
    built)."""
    check_widths(config)
    added = added_defaults(type(config))
    planned = trial_configs(config) if trials is None else trials
    return run_trials(
        EXPERIMENT, planned, run_trial, store, executor, progress=progress, added=added
    )


def identities(
    config: RelationalGraphsConfig, trials: list[dict[str, Any]] | None = None
) -> list[str]:
    """The trial identities of a config, in :func:`.config.trials` order (``trials``: that list
    when already built)."""
    added = added_defaults(type(config))
    planned = trial_configs(config) if trials is None else trials
    return [trial_identity(EXPERIMENT, t, added) for t in planned]


def write_outputs(
    records: list[TrialRecord], out_dir: Path, config: RelationalGraphsConfig | None = None
) -> dict[str, str]:
    """Tables and figures (see :mod:`.outputs`)."""
    from hiddenstruct.experiments.relational_graphs import outputs as out

    return out.write_outputs(records, out_dir, config)


class RelationalGraphs(Experiment):
    """relational-graphs: graph2nn's study of relational graphs as layer masks at equal cost
    (docs/relational-graphs.md). Demo: digits MLP and a Reber GRU, 8-node graphs."""

    name = EXPERIMENT
    help = HELP
    description = DESCRIPTION
    config_type = RelationalGraphsConfig
    presets = PRESETS
    report_section = SECTION
    list_columns = {
        "model": config_column("model"),
        "graph": config_column("graph"),
        "k": config_column("k"),
        "p": config_column("p"),
        "seed": config_column("seed"),
        "width": result_column("width"),
        "error %": result_column("error"),
    }

    def trials(self, config: RelationalGraphsConfig) -> list[dict[str, Any]]:
        return trials(config)

    def run_trial(self, trial: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
        return run_trial(trial, log)

    def sweep(self, config, store, executor=None, progress=True, trials=None) -> list[TrialRecord]:
        return sweep(config, store, executor, progress, trials)

    def write_outputs(self, results, out_dir: Path, config=None) -> dict[str, str]:
        return write_outputs(results, out_dir, config)

    def check_data(self, config: RelationalGraphsConfig) -> None:
        if "mlp" in config.models:
            check_image_data(config.dataset, config.data_dir, ("train", config.eval_split))


RELATIONAL_GRAPHS = RelationalGraphs()
