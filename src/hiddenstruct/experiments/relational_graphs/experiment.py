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

from hiddenstruct.experiments.base import Experiment, TrialRunner, config_column, result_column
from hiddenstruct.experiments.relational_graphs import outputs as out
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
from hiddenstruct.experiments.relational_graphs.report_section import SECTION
from hiddenstruct.trials.preflight import check_image_data
from hiddenstruct.trials.store import TrialRecord

# re-exported: the experiment's public names, one import away (settings: .config; runner: .trial)
__all__ = [
    "DESCRIPTION", "EXPERIMENT", "HELP", "MODELS", "PRESETS", "RELATIONAL_GRAPHS", "Config",
    "RelationalGraphs", "RelationalGraphsConfig", "check_widths", "graph_set", "run_trial",
    "trials",
]  # fmt: skip


#: one trial (:func:`.trial.run_trial`), imported when a trial runs
run_trial = TrialRunner("hiddenstruct.experiments.relational_graphs.trial", "run_trial")


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

    trials = staticmethod(trials)
    run_trial = run_trial
    write_outputs = staticmethod(out.write_outputs)

    def sweep(self, config, store, executor=None, progress=True, trials=None) -> list[TrialRecord]:
        check_widths(config)
        return super().sweep(config, store, executor, progress, trials)

    def check_data(self, config: RelationalGraphsConfig) -> None:
        if "mlp" in config.models:
            check_image_data(config.dataset, config.data_dir, ("train", config.eval_split))


RELATIONAL_GRAPHS = RelationalGraphs()
