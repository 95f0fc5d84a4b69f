"""Experiment: genetic NAS with architectural performance prediction (paper §4.4, Fig. 8b).

Three searches under the same generation budget on digits (default, embedded) or CIFAR-10
(training batches only; a stratified validation split is held out): the genetic search with
prediction, the same search without prediction, and random search. Every trained candidate
is a trial in the store (experiment ``nas``), so an interrupted run resumes where it stopped.

Outputs in ``out_dir``: ``best_accuracy_over_time.png``, ``figure8b_correlations.png`` +
``feature_correlations.csv``, ``feature_importances.csv`` (top 10), ``meta_dataset.csv``,
``candidates.csv``, ``generations.csv``, ``summary.json``, ``best_genotype.{json,dot,txt,png}``.

Time axis: *search seconds* = time spent outside training (operators, features, predictor)
plus the stored wall time of every trained candidate, so a resumed run reports the same cost.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.executors import (
    Executor,
    LocalExecutor,
    TrialFn,
    run_trials,
)
from hiddenstruct.experiments.store import TrialStore
from hiddenstruct.nas import (
    FEATURE_NAMES,
    GenerationLog,
    GeneticConfig,
    Genotype,
    RandomSearchConfig,
    SearchResult,
    SearchSpace,
    evaluate,
    genetic_search,
    random_search,
)
from hiddenstruct.nas.evaluate import train_candidate

EXPERIMENT = "nas"
SEARCHES = ("prediction", "no_prediction", "random")


@dataclass(frozen=True)
class NasConfig:
    """Settings of ``hiddenstruct experiment nas`` (CPU-sized defaults; paper values in docs)."""

    dataset: str = "digits"  # digits | cifar10
    data_dir: str | None = None  # folder holding cifar-10-batches-py (cifar10 only)
    population: int = 10
    generations: int = 5
    mutation_probability: float = 0.5
    crossover_probability: float = 0.0
    remove_worst_probability: float = 0.1
    estimation_fraction: float = 0.5
    min_measured: int = 10
    min_depth: int = 6
    max_depth: int = 12
    random_min_depth: int = 10
    random_max_depth: int = 36
    channels: tuple[int, ...] = (4, 8, 16)
    max_channels: int = 64
    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-2
    train_subset: int | None = None  # first n of a seeded shuffle (None = all)
    val_subset: int | None = None
    val_fraction: float = 0.1
    time_budget: float | None = None  # seconds per search (None = generations only)
    predictor: str = "random_forest"
    searches: tuple[str, ...] = SEARCHES
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in ("digits", "cifar10"):
            raise UsageError(f"unknown dataset {self.dataset!r}; choose digits or cifar10")
        if self.dataset == "cifar10" and not self.data_dir:
            raise UsageError("cifar10 needs --data-dir (the folder that holds cifar-10-batches-py)")
        bad = [s for s in self.searches if s not in SEARCHES]
        if bad or not self.searches:
            raise UsageError(f"unknown search(es) {bad}; choose from {', '.join(SEARCHES)}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise UsageError("epochs and batch_size must be ≥ 1 and lr > 0")
        if not 0 < self.val_fraction < 1:
            raise UsageError(f"val_fraction must lie in (0, 1), got {self.val_fraction}")
        self.genetic("prediction")  # validates the GA settings (UsageError)
        self.random()

    def space(self) -> SearchSpace:
        return SearchSpace(channel_choices=tuple(self.channels))

    def genetic(self, search: str) -> GeneticConfig:
        """The GA settings of ``search`` (prediction on or off)."""
        return GeneticConfig(
            population=self.population,
            generations=self.generations,
            mutation_probability=self.mutation_probability,
            crossover_probability=self.crossover_probability,
            remove_worst_probability=self.remove_worst_probability,
            estimation_fraction=self.estimation_fraction if search == "prediction" else 0.0,
            min_measured=self.min_measured,
            min_depth=self.min_depth,
            max_depth=self.max_depth,
            predictor=self.predictor,
            time_budget=self.time_budget,
            seed=self.seed,
            input_channels=3 if self.dataset == "cifar10" else 1,
            space=self.space(),
        )

    def random(self) -> RandomSearchConfig:
        """Random search with one batch of ``population`` genotypes per generation."""
        return RandomSearchConfig(
            samples_per_generation=self.population,
            generations=self.generations,
            min_depth=self.random_min_depth,
            max_depth=self.random_max_depth,
            time_budget=self.time_budget,
            seed=self.seed,
            space=self.space(),
        )


#: Named base settings; options given explicitly override them.
PRESETS: dict[str, dict[str, Any]] = {
    "small": {},
    "paper": {
        "population": 30,
        "generations": 20,
        "min_measured": 30,
        "channels": (16, 32, 64),
        "max_channels": 256,
        "epochs": 10,
        "batch_size": 128,
        "lr": 1e-3,
    },
}


def preset(name: str, **overrides: Any) -> NasConfig:
    """A :class:`NasConfig` from a named preset plus explicit overrides."""
    try:
        base = PRESETS[name]
    except KeyError:
        raise UsageError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
    return NasConfig(**{**base, **overrides})


def trial_settings(cfg: NasConfig, search: str) -> dict[str, Any]:
    """The trial config of ``search`` without the genotype (see :func:`~hiddenstruct.nas.evaluate.train_candidate`)."""
    return {
        "search": search,
        "dataset": cfg.dataset,
        "data_dir": str(cfg.data_dir) if cfg.data_dir else None,
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "train_subset": cfg.train_subset,
        "val_subset": cfg.val_subset,
        "val_fraction": cfg.val_fraction,
        "data_seed": cfg.seed,
        "max_channels": cfg.max_channels,
        "seed": cfg.seed,
    }


class TrialEvaluator:
    """``evaluate(genotypes) -> max validation accuracies`` through :func:`run_trials`; doubles as the clock."""

    def __init__(
        self,
        cfg: NasConfig,
        search: str,
        store: TrialStore,
        executor: Executor | None,
        progress: bool,
        trial_fn: TrialFn = train_candidate,
    ) -> None:
        self.base = trial_settings(cfg, search)
        self.store, self.executor, self.progress, self.trial_fn = (
            store,
            executor,
            progress,
            trial_fn,
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
    evaluate.warm_up(trial_settings(cfg, "warm-up"), cfg.channels)


def run_searches(
    cfg: NasConfig,
    store: TrialStore,
    executor: Executor | None = None,
    progress: Callable[[str, GenerationLog], None] | None = None,
    trial_progress: bool = False,
    trial_fn: TrialFn = train_candidate,
) -> dict[str, SearchResult]:
    """Run the configured searches; returns ``{search name: SearchResult}``."""
    if trial_fn is train_candidate and (executor is None or isinstance(executor, LocalExecutor)):
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


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", newline="") as handle:
        fields = list(rows[0]) if rows else []
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
    return path


def _write_text(path: Path, text: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return path


def write_outputs(
    cfg: NasConfig, results: dict[str, SearchResult], out_dir: Path
) -> dict[str, str]:
    """Write figures, CSVs, the summary and the best genotype; return label → path."""
    import pandas as pd

    from hiddenstruct.experiments.plots import best_over_time, figure8b
    from hiddenstruct.nas import analysis
    from hiddenstruct.nas.render import render_png

    out_dir.mkdir(parents=True, exist_ok=True)
    channels = 3 if cfg.dataset == "cifar10" else 1
    meta = analysis.meta_dataset(results, channels)
    written = {
        "candidates": _write_csv(out_dir / "candidates.csv", analysis.candidate_rows(results)),
        "generations": _write_csv(out_dir / "generations.csv", analysis.generation_rows(results)),
        "meta_dataset": _write_csv(out_dir / "meta_dataset.csv", meta),
    }

    gens = pd.DataFrame(analysis.generation_rows(results))
    summary = {**analysis.summarize(results), "config": asdict(cfg)}
    written["best_accuracy_over_time"] = best_over_time(
        gens,
        out_dir / "best_accuracy_over_time.png",
        cfg.dataset,
        summary.get("speedup_from_prediction"),
    )

    corr, importances = analysis.correlations_and_importances(meta, cfg.predictor, cfg.seed)
    rows = [{"feature": n, "pearson_r": corr[n]} for n in FEATURE_NAMES]
    written["feature_correlations"] = _write_csv(out_dir / "feature_correlations.csv", rows)
    written["figure8b"] = figure8b(
        pd.DataFrame(rows),
        out_dir / "figure8b_correlations.png",
        pd.DataFrame(importances, columns=["feature", "importance"]),
        measured=len(meta),
    )
    rows = [
        {"rank": i + 1, "feature": n, "importance": v, "pearson_r": corr[n]}
        for i, (n, v) in enumerate(importances)
    ]
    written["feature_importances"] = _write_csv(out_dir / "feature_importances.csv", rows)

    text = json.dumps(summary, indent=2, default=str)
    written["summary"] = _write_text(out_dir / "summary.json", text)

    best = max((r.best() for r in results.values()), key=lambda c: c.fitness)
    written["best_genotype"] = _write_text(
        out_dir / "best_genotype.json", best.genotype.to_json(indent=2)
    )
    _write_text(out_dir / "best_genotype.dot", best.genotype.to_dot())
    _write_text(out_dir / "best_genotype.txt", best.genotype.render_text() + "\n")
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
    return results, write_outputs(cfg, results, out_dir)


DEMO_CONFIG = NasConfig(
    population=5,
    generations=3,
    channels=(4, 8),
    max_channels=16,
    epochs=3,
    batch_size=32,
    min_measured=5,
    min_depth=4,
    max_depth=8,
    random_min_depth=6,
    random_max_depth=14,
    train_subset=800,
)


def demo_step(out_dir: Path, store: TrialStore, seed: int) -> dict[str, str]:
    """Demo: the three searches on digits at toy scale."""
    cfg = replace(DEMO_CONFIG, seed=seed)
    results, written = run_experiment(cfg, out_dir, store)
    best = {s: f"{r.best().fitness:.3f}" for s, r in results.items()}
    return {**written, "best accuracy": ", ".join(f"{s} {v}" for s, v in best.items())}
