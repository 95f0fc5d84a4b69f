"""Experiment: genetic NAS with architectural performance prediction (paper §4.4, Fig. 8b).

Three searches under the same generation budget on digits (default, embedded) or CIFAR-10
(training batches only; a stratified validation split is held out): the genetic search with
prediction, the same search without prediction, and random search. Every trained candidate
is a trial in the store (experiment ``nas``), so an interrupted run resumes where it stopped.

Outputs in ``out_dir``: ``best_accuracy_over_time.png``, ``figure8b_correlations.png`` +
``feature_correlations.csv`` (with ``notes`` where r is undefined), ``feature_importances.csv``
(top 10), ``predictor_scores.csv`` (each regressor's R² and MAE on the held-out
``test_fraction`` of the meta-dataset, paper §4.4's 70/30, plus CV), ``meta_dataset.csv``,
``candidates.csv``, ``generations.csv``, ``summary.json``, ``best_genotype.{json,dot,txt,png}``.

Time axis: *search seconds* = time spent outside training (operators, features, predictor)
plus the stored wall time of every trained candidate, so a resumed run reports the same cost.

Settings and a search's trial settings: :mod:`.config`; the searches: :mod:`.sweep`; a
candidate's trial: :func:`hiddenstruct.nas.evaluate.train_candidate`; the outputs:
:mod:`.outputs`; the best candidate's model: :mod:`.best_model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hiddenstruct.experiments.base import Experiment, TrialRunner, config_column, result_column
from hiddenstruct.experiments.nas.config import (  # noqa: F401  (re-exported)
    DESCRIPTION,
    EXPERIMENT,
    HELP,
    PRESETS,
    Config,
    NasConfig,
    trial_settings,
)
from hiddenstruct.experiments.nas.report_section import SECTION
from hiddenstruct.trials.preflight import check_image_data

if TYPE_CHECKING:  # the nas package imports torch: loaded only when a search runs
    from hiddenstruct.nas import SearchResult


class Nas(Experiment):
    """nas (paper §4.4): genetic and random searches whose candidates are the trials, proposed
    generation by generation, so none are known up front (:meth:`identities` stands in the
    warm-up genotype)."""

    name = EXPERIMENT
    help = HELP
    description = DESCRIPTION
    config_type = NasConfig
    presets = PRESETS
    report_section = SECTION
    paper_scale = (
        ("data set", "dataset", "value", "cifar10"),
        ("training images", "train_subset", "value", "train_subset"),
        ("epochs per candidate", "epochs", "value", "epochs"),
        ("max channels", "max_channels", "value", "max_channels"),
    )
    list_columns = {
        "search": config_column("search"),
        "dataset": config_column("dataset"),
        "vertices": lambda t: len((t.config.get("genotype") or {}).get("vertices", [])) or None,
        "val acc": result_column("max_val_accuracy"),
    }

    run_trial = TrialRunner("hiddenstruct.nas.evaluate", "train_candidate")

    def plan(self, config: NasConfig) -> None:
        return None  # the candidates are proposed generation by generation

    # The searches and their results load torch (hiddenstruct.nas), and every command line
    # imports this class: .sweep and .outputs are imported when a method is called.
    # ``trials`` (the plan): None, as no candidate is known up front.
    def identities(self, config: NasConfig, trials=None) -> list[str]:
        from hiddenstruct.experiments.nas import sweep as searches

        return searches.identities(config)

    def sweep(
        self, config, store, executor=None, progress=True, trials=None
    ) -> dict[str, SearchResult]:
        from hiddenstruct.experiments.nas import sweep as searches

        return searches.sweep(config, store, executor, progress)

    def write_outputs(self, results, out_dir: Path, config: NasConfig) -> dict[str, str]:
        from hiddenstruct.experiments.nas.outputs import write_outputs

        return write_outputs(results, out_dir, config)

    def check_data(self, config: NasConfig) -> None:
        check_image_data(config.dataset, config.data_dir, ("train",))

    def demo_step(self, out_dir: Path, store, seed: int, threads: int = 1) -> dict[str, str]:
        from hiddenstruct.experiments.nas import sweep as searches

        return searches.demo_step(out_dir, store, seed, threads)


NAS = Nas()
