"""What nas writes from its searches' results: the candidates, generations and meta-dataset
tables, Figure 8b with the feature correlations and importances, the predictor's scores, the
best accuracy over time, ``summary.json`` and the best genotype (:mod:`.experiment` lists the
files). It loads torch and pandas: the results are :class:`~hiddenstruct.nas.SearchResult`s,
which only a search makes, so the experiment imports it only then."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from hiddenstruct.data.images import image_dataset_info
from hiddenstruct.experiments.nas.config import NasConfig
from hiddenstruct.experiments.nas.figures import best_over_time, figure8b, reach_summary
from hiddenstruct.nas import SearchResult, analysis
from hiddenstruct.nas.render import render_png
from hiddenstruct.outputs import write_csv, write_json, write_text
from hiddenstruct.predict.regressors import canonical_regressor
from hiddenstruct.stats import CHANCE_MARGIN


def write_outputs(
    results: dict[str, SearchResult], out_dir: Path, cfg: NasConfig
) -> dict[str, str]:
    """Write figures, CSVs, the summary and the best genotype; return label → path."""
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
