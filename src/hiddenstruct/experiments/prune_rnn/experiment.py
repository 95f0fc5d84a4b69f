"""Experiment: pruning recurrent networks on the Reber grammar (paper §4.2, Figures 2b and 5).

Model: Embedding(128 ASCII codes) → 3 masked recurrent layers of 50 → Linear(2); Adam lr
1e-3, batch 32, gradient clipping 5. Per mode (RNN_TANH, RNN_RELU, GRU, LSTM) a base model is
trained until 100 % accuracy on a validation share of the training strings (``val_fraction``;
never the test strings) or an epoch cap (paper: 50 epochs). From that base, i2h
only, h2h only and both are pruned at p = 10, 20, …, 100 % (the p-th percentile of |w| is
the threshold, per tensor or — ``threshold="global"``, the paper preset, the authors' code —
over the whole scope); with ``rounds="iterative"`` the levels run in increasing order on one
model per scope, each continuing from the previous level's retrained model. The test
accuracy is recorded right after pruning and after each retraining epoch, up to a cap,
stopping early once the accuracy on the validation strings is back within ``tolerance`` of
the base's (``val_fraction`` 0, the protocol before 0.2.0: the test accuracy).
One trial per (mode, repeat) in the store (experiment ``prune-rnn``), so runs resume.

Outputs in ``out_dir``: ``points.csv``, ``points_summary.csv`` (mean ± std and n over
repeats per mode, scope and p), ``summary.csv`` (base accuracy mean ± std, largest p
tolerated without retraining — accuracy drop ≤ tolerance — over the repeats whose base beats
chance by ``chance_margin``, epochs needed to recover above it, ``notes``),
``figure2b_both.png``, ``figure5a_i2h.png``, ``figure5b_h2h.png`` (accuracy vs. p per mode,
right after pruning and after the first retraining epoch; p = 0 is the base model).
"""

from __future__ import annotations

from hiddenstruct.experiments.base import Experiment, TrialRunner, config_column, result_column
from hiddenstruct.experiments.prune_rnn.config import (  # noqa: F401  (re-exported)
    DESCRIPTION,
    EXPERIMENT,
    HELP,
    MODES,
    PERCENTS,
    PRESETS,
    ROUNDS,
    SCOPES,
    Config,
    PruneRNNConfig,
    trial_configs,
)
from hiddenstruct.experiments.prune_rnn.outputs import write_outputs
from hiddenstruct.experiments.prune_rnn.report_section import SECTION
from hiddenstruct.experiments.prune_rnn.summary import (  # noqa: F401  (re-exported)
    epochs_to_recover,
    point_rows,
    spread_rows,
    summarize,
)


class PruneRNN(Experiment):
    """prune-rnn (paper §4.2): one trial per (mode, repeat) prunes i2h, h2h and both. Demo:
    PRESETS["demo"]."""

    name = EXPERIMENT
    help = HELP
    description = DESCRIPTION
    config_type = PruneRNNConfig
    presets = PRESETS
    report_section = SECTION
    paper_scale = (
        ("Reber strings", "reber_n", "value", "reber_n"),
        ("hidden layers", "hidden_sizes", "value", "hidden_sizes"),
        ("base epochs", "base_epochs", "value", "base_epochs"),
        ("modes", "mode", "count", "modes"),
        ("repeats", "repeat", "count", "repeats"),
    )
    list_columns = {
        "mode": config_column("mode"),
        "seed": config_column("seed"),
        "base acc": result_column("base_accuracy"),
        "base epochs": result_column("base_epochs"),
    }

    trials = staticmethod(trial_configs)
    run_trial = TrialRunner("hiddenstruct.experiments.prune_rnn.trial", "rnn_trial")
    write_outputs = staticmethod(write_outputs)


PRUNE_RNN = PruneRNN()
