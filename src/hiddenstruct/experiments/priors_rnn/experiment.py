"""Random structural priors for recurrent networks (paper §4.3, Figure 7, Table 1, R² table).

Random graphs (Watts–Strogatz, Barabási–Albert, Erdős–Rényi; the sampling rules and their
sources in :mod:`hiddenstruct.graphs.generators`) become recurrent classifiers
``Embedding(128 ASCII codes, first layer's width) → GraphRNN(graph, mode) → Linear(·, 2)``
trained on the Reber grammar; graph properties and test accuracy form a meta-dataset.

**Trials and packs.** Every (graph, mode) is one trial of experiment ``priors-rnn``: its
config (family, n, graph seed, mode, training settings) is hashed and stored, and its row
holds the graph properties, test accuracy and loss, train metrics and time. The *unit of
work* is a pack: up to ``pack_size`` pending graphs of one mode trained together as one
disjoint :class:`~hiddenstruct.nn.packed.PackedGraphClassifier` (equal to training each
alone, see ``tests/nn/test_packed.py``). Packs are trials of ``priors-rnn-pack`` run
through :func:`~hiddenstruct.trials.executors.run_trials` (so ``--workers`` and Ray
work); a finished pack's rows are then written to their graph trials. Resume works per
graph: a re-run registers the graph trials, first copies rows out of any finished pack
(e.g. one that completed just before an interruption), then packs only the graphs that are
still not done. An interrupted pack loses only its own partial training.

Every graph sees the same batches in the same order (one shuffle seed for the sweep) and is
initialised from its own seed, so its result does not depend on which pack it lands in.

Settings, trials and a trial's graph: :mod:`.config`; the sweep in packs: :mod:`.sweep`; the
pack runner: :mod:`.trial`; the outputs: :mod:`.outputs`.
"""

from __future__ import annotations

from pathlib import Path

from hiddenstruct.experiments.base import Experiment, config_column, result_column
from hiddenstruct.experiments.priors_rnn.config import (  # noqa: F401  (re-exported)
    DATA_KEYS,
    DESCRIPTION,
    EXPERIMENT,
    HELP,
    PACK_EXPERIMENT,
    PRESETS,
    TRAINING_KEYS,
    Config,
    PriorsConfig,
    build_graph,
    graph_trials,
)
from hiddenstruct.experiments.priors_rnn.outputs import write_outputs
from hiddenstruct.experiments.priors_rnn.report_section import SECTION
from hiddenstruct.experiments.priors_rnn.sweep import (  # noqa: F401  (re-exported)
    PACK_RUNNER,
    ROW_KEYS,
    harvest,
    make_packs,
    run_sweep,
)


class PriorsRNN(Experiment):
    """priors-rnn (paper §4.3): random graphs as recurrent priors; trials run in packs of
    graphs trained together, so a sweep's results are the rows of its (graph, mode) trials.
    The demo preset is PRESETS["demo"] (docs/experiments.md lists what it trains)."""

    name = EXPERIMENT
    help = HELP
    description = DESCRIPTION
    config_type = PriorsConfig
    presets = PRESETS
    report_section = SECTION
    paper_scale = (
        ("Reber strings", "reber_n", "value", "reber_n"),
        ("graphs per family", "index", "count", "count"),
        ("modes", "mode", "count", "modes"),
        ("epochs", "epochs", "value", "epochs"),
    )
    list_columns = {
        "family": config_column("family"),
        "mode": config_column("mode"),
        "graph": config_column("index"),
        "n": config_column("n"),
        "test acc": result_column("test_acc"),
    }

    trials = staticmethod(graph_trials)
    run_trial = PACK_RUNNER  # a pack of graph trials: the unit of work (module docstring)
    sweep = staticmethod(run_sweep)

    def write_outputs(self, results, out_dir: Path, config=None) -> dict[str, str]:
        planned = getattr(results, "planned", None)  # run_sweep's rows know it
        if planned is None and config is not None:
            planned = len(graph_trials(config))
        return write_outputs(results, out_dir, config, planned=planned)


PRIORS_RNN = PriorsRNN()
