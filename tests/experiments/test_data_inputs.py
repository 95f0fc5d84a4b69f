"""Experiment-side data inputs: Reber identity keys, CSV checksums at run time, given graphs."""

from __future__ import annotations

import math

import pytest

from hiddenstruct.data.reber import generate_reber_dataset
from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.priors_rnn.graph_inputs import (
    build_file_graph,
    file_graph_trials,
    init_seed_of,
    is_file_trial,
)
from hiddenstruct.experiments.reber_inputs import (
    data_keys,
    overlap_result,
    runtime_paths,
    trial_dataset,
)
from hiddenstruct.graphs.files import load_graph_files
from hiddenstruct.graphs.generators import barabasi_albert, watts_strogatz
from hiddenstruct.graphs.io import write_graph

SETTINGS = dict(n=200, seed=3, test_fraction=0.25, hard_fraction=0.5)


def test_defaults_add_no_keys_so_old_identities_stay() -> None:
    assert data_keys() == {}
    assert data_keys("authors") == {"negatives": "authors"}
    assert data_keys("mix", unique=True) == {"unique": True}
    with pytest.raises(UsageError, match="mix, hard, random, authors"):
        data_keys("nope")


def test_generated_trial_dataset_follows_keys() -> None:
    plain = trial_dataset({}, **SETTINGS)  # a trial stored before 0.2.0: i.i.d. draws
    assert plain == generate_reber_dataset(200, 3, 0.25, 0.5, unique=None)
    unique = trial_dataset(data_keys(unique=True), **SETTINGS)  # new trials carry unique: true
    assert unique == generate_reber_dataset(200, 3, 0.25, 0.5)
    assert overlap_result(unique)["test_in_train"] == 0.0
    authors = trial_dataset(data_keys("authors"), **SETTINGS)
    assert authors == generate_reber_dataset(200, 3, 0.25, 0.5, negatives="authors")
    assert overlap_result(authors)["test_in_train"] == 0.0
    assert overlap_result(plain)["test_in_train"] > 0  # i.i.d. draws repeat short strings


def test_csv_trial_is_keyed_by_content_and_checked_at_run_time(tmp_path) -> None:
    data = generate_reber_dataset(120, 1)
    path = data.to_csv(tmp_path / "d.csv")
    keys = data_keys(reber_csv=[path])
    assert keys == {"reber_csv_sha256": data.checksum()}
    moved = tmp_path / "elsewhere.csv"
    path.rename(moved)
    trial = {**keys, "runtime": runtime_paths([moved])}
    back = trial_dataset(trial, **SETTINGS)  # found at its new place: same content, same trial
    assert back.checksum() == data.checksum() and back.strings == data.strings
    generate_reber_dataset(120, 2).to_csv(moved)  # edited file: different data
    with pytest.raises(UsageError, match="changed since the trial was registered"):
        trial_dataset(trial, **SETTINGS)
    with pytest.raises(UsageError, match="no --reber-csv file"):
        trial_dataset(keys, **SETTINGS)


def test_overlap_result_of_empty_test_is_nan() -> None:
    result = overlap_result(generate_reber_dataset(40, 0, test_fraction=0.0))
    assert math.isnan(result["test_in_train"]) and result["data_checksum"].startswith("sha256:")


def test_file_graph_trials_keyed_by_content(tmp_path) -> None:
    write_graph(watts_strogatz(12, 4, 1.0, seed=1), tmp_path / "watts_strogatz_1.edgelist")
    write_graph(
        barabasi_albert(14, 1, seed=2, seed_graph="classic"), tmp_path / "barabasi_albert_1.json"
    )
    records = load_graph_files([tmp_path])
    trials = file_graph_trials(records, ("GRU", "LSTM"), {"epochs": 3})
    assert len(trials) == 4 and all(is_file_trial(t) for t in trials)
    assert [t["family"] for t in trials] == ["barabasi_albert"] * 2 + ["watts_strogatz"] * 2
    assert trials[0]["init_seed"] == init_seed_of(records[0].content_hash) == trials[1]["init_seed"]
    assert trials[0]["epochs"] == 3 and "graph_file" in trials[0]["runtime"]
    G = build_file_graph(trials[0])
    assert G.number_of_nodes() == 14 and G.graph["family"] == "barabasi_albert"
    write_graph(barabasi_albert(14, 2, seed=2), tmp_path / "barabasi_albert_1.json")
    with pytest.raises(UsageError, match="changed since the trial was registered"):
        build_file_graph(trials[0])
