"""NAS experiment: trials in the store, resume after interruption, outputs on digits."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from typing import Any

import pytest

from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.nas.config import preset
from hiddenstruct.experiments.nas.experiment import NasConfig
from hiddenstruct.experiments.nas.sweep import run_experiment, run_searches
from hiddenstruct.nas import FEATURE_NAMES, Genotype
from hiddenstruct.trials.store import TrialStore

CALLS: list[str] = []
INTERRUPT_AT: list[int] = []  # raise KeyboardInterrupt when len(CALLS) reaches this


def fake_trial(config: dict[str, Any], log) -> dict[str, Any]:
    """Deterministic stand-in for training (module level, so executors can run it)."""
    genotype = Genotype.from_dict(config["genotype"])
    if INTERRUPT_AT and len(CALLS) >= INTERRUPT_AT[0]:
        raise KeyboardInterrupt
    CALLS.append(genotype.hash)
    accuracy = 1.0 / (1.0 + abs(genotype.depth - 6)) + 0.001 * len(genotype.edges)
    return {
        "val_accuracy": accuracy,
        "max_val_accuracy": accuracy,
        "train_seconds": 0.0,
        "parameters": 0,
    }


TINY = NasConfig(
    population=4,
    generations=3,
    min_measured=4,
    min_depth=3,
    max_depth=6,
    random_min_depth=3,
    random_max_depth=8,
    channels=(2,),
    max_channels=8,
    epochs=1,
    batch_size=32,
    train_subset=96,
    val_subset=64,
)


def _key(results):
    return {
        s: [(c.genotype.hash, c.fitness, c.measured) for c in r.candidates]
        for s, r in results.items()
    }


def test_resume_after_interruption_skips_finished_trials(tmp_path):
    cfg = replace(TINY, searches=("prediction", "random"))
    CALLS.clear()
    INTERRUPT_AT.clear()
    reference = run_searches(cfg, TrialStore(tmp_path / "ref.sqlite"), trial_fn=fake_trial)
    total = len(CALLS)
    assert total == sum(len(r.measured) for r in reference.values())

    CALLS.clear()
    INTERRUPT_AT.append(total // 2)
    store = TrialStore(tmp_path / "store.sqlite")
    with pytest.raises(KeyboardInterrupt):
        run_searches(cfg, store, trial_fn=fake_trial)
    finished = len(CALLS)
    assert finished == total // 2
    assert len(store.trials("nas", status="done")) == finished

    CALLS.clear()
    INTERRUPT_AT.clear()
    resumed = run_searches(cfg, store, trial_fn=fake_trial)
    assert len(CALLS) == total - finished  # finished trials were not run again
    assert _key(resumed) == _key(reference)
    assert len(store.trials("nas", status="done")) == total


def test_searches_get_separate_trials_and_estimates_are_not_trials(tmp_path):
    CALLS.clear()
    INTERRUPT_AT.clear()
    store = TrialStore(tmp_path / "s.sqlite")
    results = run_searches(TINY, store, trial_fn=fake_trial)
    by_search = {}
    for record in store.trials("nas"):
        by_search.setdefault(record.config["search"], set()).add(
            Genotype.from_dict(record.config["genotype"]).hash
        )
    for search, result in results.items():
        assert by_search[search] == {c.genotype.hash for c in result.measured}
        estimated = {c.genotype.hash for c in result.candidates if not c.measured}
        assert not estimated & by_search[search]


def test_bad_settings_are_usage_errors():
    with pytest.raises(UsageError):
        replace(TINY, population=1)
    with pytest.raises(UsageError):
        replace(TINY, estimation_fraction=1.2)
    with pytest.raises(UsageError, match="data-dir"):
        NasConfig(dataset="cifar10")
    with pytest.raises(UsageError):
        preset("huge")
    assert preset("paper").population == 30


def test_experiment_on_digits_writes_all_outputs(tmp_path):
    cfg = replace(TINY, generations=2, searches=("prediction", "random"))
    results, written = run_experiment(cfg, tmp_path / "out", TrialStore(tmp_path / "s.sqlite"))
    for label in ("best_accuracy_over_time", "figure8b", "best_genotype_png"):
        assert (tmp_path / "out" / written[label]).stat().st_size > 0
    with open(written["meta_dataset"]) as handle:
        meta = list(csv.DictReader(handle))
    assert len(meta) == sum(len(r.measured) for r in results.values())
    assert set(FEATURE_NAMES) <= set(meta[0])
    assert all(0.0 <= float(row["max_val_accuracy"]) <= 1.0 for row in meta)
    # candidates at chance (10 digit classes + 5 points) are flagged and left out
    learned = [row for row in meta if row["above_chance"] == "True"]
    assert all((float(r["max_val_accuracy"]) > 0.15) == (r in learned) for r in meta)
    with open(written["feature_importances"]) as handle:
        rows = list(csv.DictReader(handle))
    assert 1 <= len(rows) <= 10 if len(learned) >= 2 else rows == []
    with open(written["feature_correlations"]) as handle:
        assert {int(r["n"]) for r in csv.DictReader(handle)} == {len(learned)}
    summary = json.loads(open(written["summary"]).read())
    assert summary["below_chance"] == {"excluded": len(meta) - len(learned), "of": len(meta)}
    assert summary["prediction"]["measured"] == len(results["prediction"].measured)
    assert summary["prediction"]["train_cpu_seconds"] > 0
    assert summary["prediction"]["trials"] == len(results["prediction"].measured)
    best = Genotype.from_json(open(written["best_genotype"]).read())
    assert best.hash in {summary[s]["best_hash"] for s in ("prediction", "random")}


def test_cli_rejects_impossible_settings_with_exit_code_2(tmp_path, capsys):
    from hiddenstruct.cli.main import main

    common = [
        "experiment",
        "nas",
        "--store",
        str(tmp_path / "s.sqlite"),
        "--output",
        str(tmp_path / "o"),
    ]
    assert main([*common, "--population", "1"]) == 2
    assert "population" in capsys.readouterr().err
    assert main([*common, "--dataset", "cifar10"]) == 2
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit) as info:
        main([*common, "--mutation", "1.5"])
    assert info.value.code == 2
