"""Experiment: three routes to sparse structure at equal final density (docs/sparse-training.md).

The same network family is made sparse by each route of
:data:`hiddenstruct.sparse_training.ROUTES` — iterative magnitude pruning with retraining
(class-blinded), static random priors (uniform and ERK masks), L1 + threshold, SET, RigL and
sparse momentum — at each final density, with repeats, on LeNet-300-100 (digits by default,
MNIST with ``--dataset mnist --data-dir DIR``) and the Reber GRU classifier. Every (model,
route, density, repeat) is one stored trial, so an interrupted run resumes.

Outputs in ``out_dir``: ``results.csv`` (one row per trial: accuracy, cost, final graph
properties), ``accuracy.csv`` (test accuracy mean ± std and n per model, route and density,
with wall time and the FLOPs-proportional cost), ``properties.csv`` (final networks'
properties side by side, means), ``correlations.csv`` (Pearson r of each property with test
accuracy across all routes and densities, per model), ``accuracy_<model>.png`` (accuracy vs
density per route), ``trajectory_<model>.png`` (one property during training per route),
``topology.csv`` (the topology distance, NNSTD, between every two routes' final structures of
one model, density and repeat) and ``topology_<model>.png`` (those distances as a route ×
route matrix at the lowest density; :mod:`.topology`).
"""

from __future__ import annotations

from hiddenstruct.experiments.base import Experiment, TrialRunner
from hiddenstruct.experiments.sparse_routes.config import (  # noqa: F401  (re-exported)
    DESCRIPTION,
    EXPERIMENT,
    HELP,
    MODELS,
    PRESETS,
    TRAJECTORY_PROPERTY,
    Config,
    SparseRoutesConfig,
    trials,
)
from hiddenstruct.experiments.sparse_routes.outputs import write_outputs
from hiddenstruct.experiments.sparse_routes.report_section import SECTION


class SparseRoutes(Experiment):
    """sparse-routes: LeNet-300-100 and a Reber GRU trained sparse by each route (pruning,
    SET, RigL, …) at a few densities. Demo: PRESETS["demo"]."""

    name = EXPERIMENT
    help = HELP
    description = DESCRIPTION
    config_type = SparseRoutesConfig
    presets = PRESETS
    report_section = SECTION
    paper_scale = (
        ("data set", "dataset", "value", "dataset"),
        ("hidden layers", "hidden", "value", "hidden"),
        ("epochs", "epochs", "value", "epochs"),
        ("densities", "density", "count", "densities"),
        ("repeats", "repeat", "count", "repeats"),
    )

    trials = staticmethod(trials)
    run_trial = TrialRunner("hiddenstruct.experiments.sparse_routes.trial", "route_trial")
    write_outputs = staticmethod(write_outputs)


SPARSE_ROUTES = SparseRoutes()
