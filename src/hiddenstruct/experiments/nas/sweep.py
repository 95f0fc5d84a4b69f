"""nas's sweep: the genetic and random searches, whose candidates are proposed generation by
generation and trained as trials (:mod:`.experiment` describes the protocol); then the best
candidate's model is kept. It loads torch (:mod:`hiddenstruct.nas`), so the experiment
imports it only when a search runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from hiddenstruct.experiments.nas.best_model import save_best_model
from hiddenstruct.experiments.nas.config import EXPERIMENT, PRESETS, NasConfig, trial_settings
from hiddenstruct.experiments.nas.outputs import write_outputs
from hiddenstruct.nas import (
    GenerationLog,
    Genotype,
    SearchResult,
    evaluate,
    genetic_search,
    random_search,
)
from hiddenstruct.training.seeding import torch_threads
from hiddenstruct.trials.executors import Executor, LocalExecutor, TrialFn, run_trials
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.store import TrialStore


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
            trial_fn or evaluate.train_candidate,
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
    trial_fn: TrialFn | None = None,
) -> dict[str, SearchResult]:
    """Run the configured searches (``trial_fn`` default: train each candidate); returns
    ``{search name: SearchResult}``."""
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


def _search_and_keep_best(
    cfg: NasConfig,
    store: TrialStore,
    executor: Executor | None,
    progress: Callable[[str, GenerationLog], None] | None,
    trial_progress: bool,
    threads: int | None,
) -> tuple[dict[str, SearchResult], str]:
    """:func:`run_searches` with ``threads`` torch threads, then the best candidate's model
    kept (:func:`.best_model.save_best_model`); the results and a note on that model."""
    with torch_threads(threads):
        results = run_searches(cfg, store, executor, progress, trial_progress)
        note = save_best_model(EXPERIMENT, best_trial_config(cfg, results), store)["best model"]
    return results, note


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
    results, note = _search_and_keep_best(cfg, store, executor, progress, trial_progress, threads)
    return results, {**write_outputs(results, out_dir, cfg), "best model": note}


def _console_report(search: str, log: GenerationLog) -> None:
    mae = "" if log.predictor_mae is None else f", predictor MAE {log.predictor_mae:.3f}"
    Console(stderr=True).print(
        f"[bold]{search}[/bold] generation {log.generation + 1}: {log.measured} trained, "
        f"{log.estimated} estimated, best accuracy {log.best_measured:.3f}, {log.elapsed:.1f} s{mae}"
    )


def identities(config: NasConfig) -> list[str]:
    """Identity of the warm-up chain genotype as a candidate of each search (a stand-in for
    the candidates the searches will propose)."""
    genotype = evaluate.warm_up_genotype(config.dataset, config.channels).to_dict()
    return [
        trial_identity(EXPERIMENT, {**trial_settings(config, s), "genotype": genotype})
        for s in config.searches
    ]


def sweep(
    config: NasConfig, store: TrialStore, executor: Executor | None = None, progress: bool = True
) -> dict[str, SearchResult]:
    """The configured searches, with a line per generation when ``progress``."""
    report = _console_report if progress else None
    results, note = _search_and_keep_best(config, store, executor, report, progress, config.threads)
    if progress:
        Console(stderr=True).print(f"nas: best model {note}")
    return results


def demo_step(out_dir: Path, store: TrialStore, seed: int, threads: int = 1) -> dict[str, str]:
    """Demo: the three searches on digits at toy scale."""
    cfg = NasConfig(**{**PRESETS["demo"], "seed": seed, "threads": threads})
    results, written = run_experiment(cfg, out_dir, store, threads=threads)
    best = {s: f"{r.best().fitness:.3f}" for s, r in results.items()}
    return {**written, "best accuracy": ", ".join(f"{s} {v}" for s, v in best.items())}
