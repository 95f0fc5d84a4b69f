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
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiddenstruct.experiments.base import Experiment, config_column, result_column
from hiddenstruct.experiments.nas.report_section import SECTION
from hiddenstruct.outputs import write_csv, write_json, write_text
from hiddenstruct.trials.executors import (
    Executor,
    LocalExecutor,
    TrialFn,
    run_trials,
)
from hiddenstruct.trials.preflight import check_image_data
from hiddenstruct.trials.store import TrialStore

if TYPE_CHECKING:  # the nas package imports torch: loaded only when a search runs
    from hiddenstruct.nas import (
        GenerationLog,
        Genotype,
        SearchResult,
    )
from hiddenstruct.experiments.nas.best_model import save_best_model
from hiddenstruct.experiments.nas.config import (
    DESCRIPTION,
    EXPERIMENT,
    HELP,
    PRESETS,
    NasConfig,
    trial_settings,
)
from hiddenstruct.predict.regressors import canonical_regressor
from hiddenstruct.trials.identity import trial_identity

Config = NasConfig


def best_trial_config(cfg: NasConfig, results: dict[str, SearchResult]) -> dict[str, Any]:
    """The trial config of the best measured candidate over all searches."""
    search, best = max(
        ((name, r.best()) for name, r in results.items()), key=lambda item: item[1].fitness
    )
    return {**trial_settings(cfg, search), "genotype": best.genotype.to_dict()}


class TrialEvaluator:
    """``evaluate(genotypes) -> max validation accuracies`` through :func:`run_trials`; doubles as the clock."""

    def __init__(
        self,
        cfg: NasConfig,
        search: str,
        store: TrialStore,
        executor: Executor | None,
        progress: bool,
        trial_fn: TrialFn | None = None,
    ) -> None:
        self.base = trial_settings(cfg, search)
        self.store, self.executor, self.progress, self.trial_fn = (
            store,
            executor,
            progress,
            trial_fn or run_trial,
        )
        self.start = time.perf_counter()
        self.excluded = 0.0  # real seconds spent inside run_trials
        self.trial_seconds = 0.0  # stored wall time of the trials returned
        self.cpu_seconds = 0.0  # CPU time the trials reported (less sensitive to a busy machine)
        self.trials_run = 0

    def __call__(self, genotypes: list[Genotype]) -> list[float]:
        configs = [{**self.base, "genotype": g.to_dict()} for g in genotypes]
        begin = time.perf_counter()
        records = run_trials(
            EXPERIMENT, configs, self.trial_fn, self.store, self.executor, progress=self.progress
        )
        self.excluded += time.perf_counter() - begin
        out = []
        for rec in records:
            self.trial_seconds += rec.seconds or 0.0
            ok = rec.status == "done" and rec.result is not None
            self.cpu_seconds += float(rec.result.get("train_cpu_seconds", 0.0)) if ok else 0.0
            out.append(float(rec.result["max_val_accuracy"]) if ok else float("nan"))
        self.trials_run += len(records)
        return out

    def clock(self) -> float:
        """Search seconds: real time outside training plus stored trial time."""
        return time.perf_counter() - self.start - self.excluded + self.trial_seconds


# ------------------------------------------------------------------------ running
def warm_up(cfg: NasConfig) -> None:
    """Train a chain of every operation once so start-up costs hit neither search (see
    :func:`hiddenstruct.nas.evaluate.warm_up`)."""
    from hiddenstruct.nas import evaluate

    evaluate.warm_up(trial_settings(cfg, "warm-up"), cfg.channels)


def run_searches(
    cfg: NasConfig,
    store: TrialStore,
    executor: Executor | None = None,
    progress: Callable[[str, GenerationLog], None] | None = None,
    trial_progress: bool = False,
    trial_fn: TrialFn | None = None,
) -> dict[str, SearchResult]:
    """Run the configured searches (``trial_fn`` default: train each candidate); returns
    ``{search name: SearchResult}``."""
    from hiddenstruct.nas import genetic_search, random_search

    if trial_fn is None and (executor is None or isinstance(executor, LocalExecutor)):
        warm_up(cfg)
    results = {}
    for search in cfg.searches:
        ev = TrialEvaluator(cfg, search, store, executor, trial_progress, trial_fn)
        report = (lambda log, s=search: progress(s, log)) if progress else None
        if search == "random":
            results[search] = random_search(cfg.random(), ev, report, clock=ev.clock)
        else:
            results[search] = genetic_search(cfg.genetic(search), ev, report, clock=ev.clock)
        results[search].costs = {
            "trials": ev.trials_run,
            "train_wall_seconds": ev.trial_seconds,
            "train_cpu_seconds": ev.cpu_seconds,
        }
    return results


#: A candidate counts as learning when its accuracy beats chance (1 / classes) by this much.
CHANCE_MARGIN = 0.05


def write_outputs(
    results: dict[str, SearchResult], out_dir: Path, cfg: NasConfig
) -> dict[str, str]:
    """Write figures, CSVs, the summary and the best genotype; return label → path."""
    import pandas as pd

    from hiddenstruct.data.images import image_dataset_info
    from hiddenstruct.experiments.nas.figures import best_over_time, figure8b, reach_summary
    from hiddenstruct.nas import analysis
    from hiddenstruct.nas.render import render_png

    out_dir.mkdir(parents=True, exist_ok=True)
    channels = 3 if cfg.dataset == "cifar10" else 1
    meta = analysis.meta_dataset(results, channels)
    chance = 1.0 / image_dataset_info(cfg.dataset).num_classes  # the balanced image classes
    for row in meta:
        row["above_chance"] = bool(row["max_val_accuracy"] > chance + CHANCE_MARGIN)
    written = {
        "candidates": write_csv(out_dir / "candidates.csv", analysis.candidate_rows(results)),
        "generations": write_csv(out_dir / "generations.csv", analysis.generation_rows(results)),
        "meta_dataset": write_csv(out_dir / "meta_dataset.csv", meta),
    }

    gens = pd.DataFrame(analysis.generation_rows(results))
    summary = {**analysis.summarize(results), "config": asdict(cfg)}
    summary["time_to_reach"] = reach_summary(gens)  # the speed-up the report gives
    written["best_accuracy_over_time"] = best_over_time(
        gens, out_dir / "best_accuracy_over_time.png", cfg.dataset
    )

    # candidates that do not beat chance say nothing about structure: flagged in the
    # meta-dataset, left out of the correlations, importances and predictor scores
    learned = [row for row in meta if row["above_chance"]]
    summary["below_chance"] = {"excluded": len(meta) - len(learned), "of": len(meta)}
    corr, importances = analysis.correlations_and_importances(learned, cfg.predictor, cfg.seed)
    rows = [  # feature, pearson_r, n, notes (why NaN)
        {**row, "n": len(learned)} for row in analysis.correlation_rows(learned)
    ]
    written["feature_correlations"] = write_csv(out_dir / "feature_correlations.csv", rows)
    scores = analysis.predictor_scores(learned, cfg.seed, cfg.test_fraction, cfg.predictor_cv)
    written["predictor_scores"] = write_csv(out_dir / "predictor_scores.csv", scores)
    written["figure8b"] = figure8b(
        pd.DataFrame(rows),
        out_dir / "figure8b_correlations.png",
        pd.DataFrame(importances, columns=["feature", "importance"]),
        measured=len(learned),
        excluded=len(meta) - len(learned),
    )
    rows = [
        {"rank": i + 1, "feature": n, "importance": v, "pearson_r": corr[n]}
        for i, (n, v) in enumerate(importances)
    ]
    written["feature_importances"] = write_csv(out_dir / "feature_importances.csv", rows)

    chosen = next(row for row in scores if row["regressor"] == canonical_regressor(cfg.predictor))
    summary["predictor_holdout"] = chosen
    written["summary"] = write_json(out_dir / "summary.json", summary)

    best = max((r.best() for r in results.values()), key=lambda c: c.fitness)
    written["best_genotype"] = write_text(
        out_dir / "best_genotype.json", best.genotype.to_json(indent=2)
    )
    write_text(out_dir / "best_genotype.dot", best.genotype.to_dot())
    write_text(out_dir / "best_genotype.txt", best.genotype.render_text() + "\n")
    title = f"best: {best.fitness:.3f} validation accuracy"
    written["best_genotype_png"] = render_png(best.genotype, out_dir / "best_genotype.png", title)
    return {label: str(path) for label, path in written.items()}


def run_experiment(
    cfg: NasConfig,
    out_dir: Path,
    store: TrialStore,
    executor: Executor | None = None,
    progress: Callable[[str, GenerationLog], None] | None = None,
    trial_progress: bool = False,
    threads: int | None = 1,
) -> tuple[dict[str, SearchResult], dict[str, str]]:
    """Run the searches and write all outputs.

    ``threads``: torch threads while trials run in this process (1 is fastest for the small
    CPU-sized candidates; None leaves torch's setting alone).
    """
    from hiddenstruct.training.seeding import torch_threads

    with torch_threads(threads):
        results = run_searches(cfg, store, executor, progress, trial_progress)
        note = save_best_model(EXPERIMENT, best_trial_config(cfg, results), store)["best model"]
    return results, {**write_outputs(results, out_dir, cfg), "best model": note}


def _console_report(search: str, log: GenerationLog) -> None:
    from rich.console import Console

    mae = "" if log.predictor_mae is None else f", predictor MAE {log.predictor_mae:.3f}"
    Console(stderr=True).print(
        f"[bold]{search}[/bold] generation {log.generation + 1}: {log.measured} trained, "
        f"{log.estimated} estimated, best accuracy {log.best_measured:.3f}, {log.elapsed:.1f} s{mae}"
    )


def run_trial(trial: dict[str, Any], log: Any) -> dict[str, Any]:
    """Train one candidate (:func:`hiddenstruct.nas.evaluate.train_candidate`)."""
    from hiddenstruct.nas.evaluate import train_candidate  # torch: when a trial runs

    return train_candidate(trial, log)


def identities(config: NasConfig, trials: None = None) -> list[str]:
    """Identity of the warm-up chain genotype as a candidate of each search (a stand-in for
    the candidates the searches will propose; ``trials``: unused, none are known up front)."""
    from hiddenstruct.nas import evaluate

    genotype = evaluate.warm_up_genotype(config.dataset, config.channels).to_dict()
    return [
        trial_identity(EXPERIMENT, {**trial_settings(config, s), "genotype": genotype})
        for s in config.searches
    ]


def sweep(
    config: NasConfig,
    store: TrialStore,
    executor: Executor | None = None,
    progress: bool = True,
    trials: None = None,
) -> dict[str, SearchResult]:
    """The configured searches, with a line per generation when ``progress`` (``trials``:
    unused, the searches propose the candidates)."""
    from hiddenstruct.training.seeding import torch_threads

    with torch_threads(config.threads):
        results = run_searches(
            config, store, executor, _console_report if progress else None, progress
        )
        note = save_best_model(EXPERIMENT, best_trial_config(config, results), store)["best model"]
    if progress:
        from rich.console import Console

        Console(stderr=True).print(f"nas: best model {note}")
    return results


def demo_step(out_dir: Path, store: TrialStore, seed: int, threads: int = 1) -> dict[str, str]:
    """Demo: the three searches on digits at toy scale."""
    cfg = NasConfig(**{**PRESETS["demo"], "seed": seed, "threads": threads})
    results, written = run_experiment(cfg, out_dir, store, threads=threads)
    best = {s: f"{r.best().fitness:.3f}" for s, r in results.items()}
    return {**written, "best accuracy": ", ".join(f"{s} {v}" for s, v in best.items())}


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

    run_trial = staticmethod(run_trial)

    def plan(self, config: NasConfig) -> None:
        return None  # the candidates are proposed generation by generation

    identities = staticmethod(identities)
    sweep = staticmethod(sweep)
    write_outputs = staticmethod(write_outputs)

    def check_data(self, config: NasConfig) -> None:
        check_image_data(config.dataset, config.data_dir, ("train",))

    demo_step = staticmethod(demo_step)


NAS = Nas()
