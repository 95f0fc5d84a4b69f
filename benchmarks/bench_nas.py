"""NAS search wall time with vs without architectural performance prediction (digits).

ours: genetic search estimating half of each generation's new candidates with a random forest.
baseline: the same search (same seed, same generations) training every candidate.
Each repeat uses a fresh trial store, so every measured candidate is really trained. A second
line compares estimating one candidate (features + forest prediction) with training it.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from common import bench_parser, measure, repeats_of, report

from hiddenstruct.experiments.nas.experiment import NasConfig
from hiddenstruct.experiments.nas.sweep import TrialEvaluator, run_searches, warm_up
from hiddenstruct.nas import PerformancePredictor, random_genotype
from hiddenstruct.training.seeding import torch_threads
from hiddenstruct.trials.store import TrialStore


def search_once(cfg: NasConfig, search: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        run_searches(replace(cfg, searches=(search,)), TrialStore(Path(folder) / "s.sqlite"))


def main() -> None:
    args = bench_parser(__doc__.splitlines()[0], default_repeats=3).parse_args()
    repeats = repeats_of(args)
    cfg = NasConfig(
        population=6 if args.quick else 8,
        generations=3 if args.quick else 4,
        min_measured=6,
        channels=(4, 8),
        max_channels=16,
        epochs=1,
        batch_size=64,
        train_subset=400 if args.quick else 800,
        min_depth=4,
        max_depth=8,
    )
    with torch_threads(1):
        warm_up(cfg)
        ours = measure(lambda: search_once(cfg, "prediction"), repeats=repeats, warmup=0)
        base = measure(lambda: search_once(cfg, "no_prediction"), repeats=repeats, warmup=0)
        report(
            f"nas search digits pop {cfg.population} x {cfg.generations} generations "
            "(prediction vs train all)",
            ours,
            base,
        )
        genotypes = [random_genotype(seed, 4, 8, cfg.space()) for seed in range(40)]
        predictor = PerformancePredictor(seed=0, input_channels=1).fit(
            genotypes[:30], [0.1 * (g.depth % 7) for g in genotypes[:30]]
        )
        with tempfile.TemporaryDirectory() as folder:
            evaluator = TrialEvaluator(
                cfg, "bench", TrialStore(Path(folder) / "t.sqlite"), None, False
            )
            fresh = iter(genotypes[30:])
            train_one = measure(lambda: evaluator([next(fresh)]), repeats=repeats, warmup=0)
        estimate_one = measure(lambda: predictor.predict(genotypes[30:31]), repeats=repeats)
        report("nas evaluate one candidate (estimate vs train)", estimate_one, train_one)


if __name__ == "__main__":
    main()
