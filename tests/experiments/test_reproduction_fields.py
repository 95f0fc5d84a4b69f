"""Reproduction settings on the spine (docs/reproduction.md): threshold / mutations / test-fraction fields, honest summaries."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace

import pytest

from hiddenstruct import stats
from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.nas.experiment import NasConfig
from hiddenstruct.experiments.nas.sweep import run_experiment
from hiddenstruct.experiments.prune_rnn.experiment import (
    PRESETS,
    PRUNE_RNN,
    PruneRNNConfig,
    summarize,
    trial_configs,
)
from hiddenstruct.experiments.prune_rnn.experiment import PRESETS as RNN_PRESETS
from hiddenstruct.nas.operators import PAPER_MUTATIONS, UNIFORM_MUTATIONS
from hiddenstruct.pruning import THRESHOLDS
from hiddenstruct.trials.store import TrialStore

TINY_RNN = PruneRNNConfig(
    modes=("GRU",), reber_n=120, embedding_dim=4, hidden_sizes=(4, 4), base_epochs=1, lr=1e-2,
    percents=(0.5,), retrain_epochs=0, scopes=("both",),
)  # fmt: skip


def test_threshold_field_choices_preset_and_identity():
    spec = PruneRNNConfig.__dataclass_fields__["threshold"].metadata
    assert set(spec["choices"]) == set(THRESHOLDS)
    assert PRESETS["paper"]["threshold"] == "global"  # the authors' code
    assert PruneRNNConfig().threshold == "per-tensor"  # 0.1.0 behaviour stays the default
    # the default leaves identities alone; the other reading is another trial
    base = PRUNE_RNN.identities(TINY_RNN)
    assert PRUNE_RNN.identities(replace(TINY_RNN, threshold="per-tensor")) == base
    assert PRUNE_RNN.identities(replace(TINY_RNN, threshold="global")) != base
    assert (
        PRUNE_RNN.identities(replace(TINY_RNN, chance_margin=0.2)) == base
    )  # summary-only setting
    with pytest.raises(UsageError, match="global, per-tensor"):
        replace(TINY_RNN, threshold="layer")


def test_threshold_reaches_the_trial_and_chance_is_stored(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    PRUNE_RNN.run(replace(TINY_RNN, threshold="global"), store, tmp_path / "out", progress=False)
    (record,) = store.trials("prune-rnn")
    assert record.config["threshold"] == "global"
    assert record.result["chance_accuracy"] == pytest.approx(0.5, abs=0.15)
    with open(tmp_path / "out" / "points_summary.csv") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["accuracy_pruned_n"] == "1" and row["accuracy_pruned_notes"] == stats.ONE_REPEAT
    assert row["accuracy_pruned_std"] == "nan"
    assert trial_configs(TINY_RNN)[0]["threshold"] == "per-tensor"


def _record(seed: int, base: float, pruned: float, chance: float = 0.5) -> dict:
    points = [
        {"scope": "both", "p": 0.1, "accuracy_pruned": base, "accuracy_retrained": []},
        {"scope": "both", "p": 0.2, "accuracy_pruned": pruned, "accuracy_retrained": []},
    ]
    result = {"base_accuracy": base, "chance_accuracy": chance, "points": points}
    return {"mode": "GRU", "seed": seed, "repeat": seed, "result": result}


def test_base_at_chance_is_flagged_and_left_out_of_tolerated_p():
    good, at_chance = _record(0, 1.0, 1.0), _record(1, 0.52, 0.52)
    with pytest.warns(stats.ChanceLevelWarning, match="GRU both seed 1"):
        (row,) = summarize([good, at_chance], 0.01, chance_margin=0.05)
    assert row["below_chance"] == 1 and row["tolerated_p"] == 0.2  # from seed 0 only
    assert row["base_accuracy_n"] == 2 and row["base_accuracy_std"] > 0.3
    assert "seed 1 excluded: base accuracy 0.5200 does not beat chance" in row["notes"]
    with pytest.warns(stats.ChanceLevelWarning):
        (alone,) = summarize([at_chance], 0.01)
    assert math.isnan(alone["tolerated_p"]) and "no base model beats chance" in alone["notes"]
    (one,) = summarize([good], 0.01)
    assert one["base_accuracy_n"] == 1 and math.isnan(one["base_accuracy_std"])
    assert "one repeat" in one["notes"]


TINY_NAS = NasConfig(
    population=4, generations=2, min_measured=4, min_depth=3, max_depth=6, random_min_depth=3,
    random_max_depth=8, channels=(2,), max_channels=8, epochs=1, batch_size=32, train_subset=96,
    val_subset=64, searches=("no_prediction",),
)  # fmt: skip


def test_nas_mutation_field_and_paper_preset():
    from hiddenstruct.experiments.nas.experiment import PRESETS as NAS_PRESETS

    assert NAS_PRESETS["paper"]["mutations"] == "insert:1"
    assert TINY_NAS.genetic("prediction").mutations == UNIFORM_MUTATIONS
    paper = replace(TINY_NAS, mutations="insert:1")
    assert paper.genetic("prediction").mutations == PAPER_MUTATIONS
    with pytest.raises(UsageError, match="valid: insert, remap"):
        replace(TINY_NAS, mutations="grow:1")
    assert replace(TINY_NAS, predictor="ada_boost").genetic("x").predictor == "adaboost"
    assert RNN_PRESETS["small"] == {}


def test_nas_writes_predictor_scores_and_correlation_notes(tmp_path):
    cfg = replace(TINY_NAS, test_fraction=0.25, predictor_cv=2)
    results, written = run_experiment(cfg, tmp_path / "out", TrialStore(tmp_path / "s.sqlite"))
    with open(written["predictor_scores"]) as handle:
        scores = list(csv.DictReader(handle))
    assert {r["regressor"] for r in scores} == {"bayesian_ridge", "random_forest", "adaboost"}
    with open(written["meta_dataset"]) as handle:  # candidates at chance are left out
        measured = sum(r["above_chance"] == "True" for r in csv.DictReader(handle))
    assert measured <= len(results["no_prediction"].measured)
    for row in scores:
        assert int(row["rows"]) == measured and row["test_fraction"] == "0.25"
        assert int(row["n_test"]) == math.ceil(0.25 * measured)
        assert row["split_r2"] == "nan" or float(row["split_r2"]) <= 1.0
        for column in ("split_r2", "cv_r2_mean"):
            assert row[column] != "nan" or row["notes"]  # every NaN carries its reason
    with open(written["feature_correlations"]) as handle:
        corr = list(csv.DictReader(handle))
    undefined = [r for r in corr if r["pearson_r"] == "nan"]
    assert undefined and all(r["notes"] for r in undefined)
    summary = json.loads(open(written["summary"]).read())
    assert summary["predictor_holdout"]["regressor"] == "random_forest"
