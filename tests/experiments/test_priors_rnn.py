"""Priors experiment: per-graph trials, packing independence, resume, outputs, CLI errors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from hiddenstruct.experiments.priors_rnn.experiment import (
    EXPERIMENT,
    PACK_EXPERIMENT,
    PriorsConfig,
    graph_trials,
    make_packs,
    run_sweep,
    write_outputs,
)
from hiddenstruct.experiments.priors_rnn.trial import train_pack
from hiddenstruct.graphs.properties import PROPERTY_NAMES
from hiddenstruct.trials.executors import run_trials
from hiddenstruct.trials.hashing import config_hash
from hiddenstruct.trials.store import TrialStore

TINY = PriorsConfig(
    families=("ws", "ba"), count=2, n_min=8, n_max=10, modes=("GRU",), epochs=1,
    batch_size=64, lr=0.01, reber_n=400, pack_size=3,
)  # fmt: skip


def test_graph_trials_are_seeded_and_per_mode():
    config = replace(TINY, modes=("gru", "LSTM"))
    trials = graph_trials(config)
    assert len(trials) == 2 * 2 * 2
    assert {t["mode"] for t in trials} == {"GRU", "LSTM"}
    assert [config_hash(t) for t in trials] == [config_hash(t) for t in graph_trials(config)]
    other = graph_trials(replace(config, seed=1))
    assert {t["graph_seed"] for t in other} != {t["graph_seed"] for t in trials}
    packs = make_packs(trials, 3, threads=1)
    assert sorted(config_hash(t) for p in packs for t in p["trials"]) == sorted(
        map(config_hash, trials)
    )
    assert all(len({t["mode"] for t in p["trials"]}) == 1 and len(p["trials"]) <= 3 for p in packs)


def test_sweep_resumes_per_graph(tmp_path):
    store = TrialStore(tmp_path / "store.sqlite")
    rows = run_sweep(TINY, store, progress=False)
    assert len(rows) == 4 and all(0.0 <= r["test_acc"] <= 1.0 for r in rows)
    assert all(set(PROPERTY_NAMES) <= set(r) for r in rows)
    packs_before = len(store.trials(PACK_EXPERIMENT))
    assert packs_before == 2  # 2 graphs per family, pack size 3, one mode → 4 graphs in 2 packs

    again = run_sweep(TINY, store, progress=False)
    assert len(store.trials(PACK_EXPERIMENT)) == packs_before  # nothing retrained
    assert {r["hash"]: r["test_acc"] for r in again} == {r["hash"]: r["test_acc"] for r in rows}

    bigger = run_sweep(replace(TINY, count=3), store, progress=False)
    assert len(bigger) == 6
    new_packs = [p for p in store.trials(PACK_EXPERIMENT)][packs_before:]
    assert len(store.trials(PACK_EXPERIMENT)) == packs_before + 1
    assert sum(len(p.config["trials"]) for p in new_packs) == 2  # only the two new graphs
    old = {r["hash"]: r["test_acc"] for r in rows}
    assert all(r["test_acc"] == old[r["hash"]] for r in bigger if r["hash"] in old)
    assert len(store.trials(EXPERIMENT, status="done")) == 6


def test_finished_pack_is_harvested_after_an_interruption(tmp_path):
    store = TrialStore(tmp_path / "store.sqlite")
    trials = graph_trials(TINY)
    store.register_many(EXPERIMENT, trials, [config_hash(t) for t in trials])
    # a pack finished but the sweep died before copying its rows to the graph trials
    run_trials(PACK_EXPERIMENT, make_packs(trials[:2], 3, 1), train_pack, store, progress=False)
    assert len(store.trials(EXPERIMENT, status="done")) == 0
    rows = run_sweep(TINY, store, progress=False)
    assert len(rows) == 4
    packs = store.trials(PACK_EXPERIMENT)
    assert (
        sum(len(p.config["trials"]) for p in packs) == 4
    )  # the 2 harvested graphs were not retrained


def test_result_does_not_depend_on_the_pack(tmp_path):
    alone = run_sweep(replace(TINY, pack_size=1), TrialStore(tmp_path / "a.sqlite"), progress=False)
    packed = run_sweep(
        replace(TINY, pack_size=4), TrialStore(tmp_path / "b.sqlite"), progress=False
    )
    by_hash = {r["hash"]: r for r in alone}
    assert set(by_hash) == {r["hash"] for r in packed}
    for row in packed:
        ref = by_hash[row["hash"]]
        assert row["train_loss"] == pytest.approx(ref["train_loss"], abs=1e-4)
        assert row["test_loss"] == pytest.approx(ref["test_loss"], abs=1e-4)
        assert row["test_acc"] == pytest.approx(ref["test_acc"], abs=0.011)
        assert row["pack_size"] == 4 and ref["pack_size"] == 1


def test_outputs(tmp_path):
    rows = []
    for i in range(8):
        row = {name: float((i * 7 + j) % 5 + i) for j, name in enumerate(PROPERTY_NAMES)}
        family = "watts_strogatz" if i % 2 else "barabasi_albert"
        rows.append({"family": family, "mode": "GRU", "index": i, "n": 10, "graph_seed": i, **row})
        rows[-1].update(test_acc=0.6 + 0.03 * i, test_loss=0.7, seconds=1.0)  # all above chance
    written = write_outputs(rows, tmp_path / "out")
    meta = pd.read_csv(written["meta-dataset"])
    assert len(meta) == 8 and list(meta.columns[:5]) == [
        "family",
        "mode",
        "index",
        "n",
        "graph_seed",
    ]
    table = pd.read_csv(written["table 1"]).set_index("property")
    assert list(table.index) == list(PROPERTY_NAMES) and list(table.columns) == ["GRU", "notes"]
    r2 = pd.read_csv(written["R² table"])
    assert list(r2.columns[:5]) == ["group", "regressor", "split_r2", "cv_r2_mean", "cv_r2_std"]
    assert "notes" in r2.columns  # undefined scores carry their reason
    assert (tmp_path / "out" / "figure7.png").stat().st_size > 1000
    few = write_outputs(rows[:4], tmp_path / "few")
    assert few["R² table"].startswith("skipped")


def test_models_at_chance_are_left_out_of_table1_r2_and_importances(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        row = {name: float(rng.normal()) for name in PROPERTY_NAMES}
        row["nodes"] = float(i)
        family = "watts_strogatz" if i % 2 else "barabasi_albert"
        # 4 models at chance (0.5) whose nodes would otherwise anti-correlate with accuracy
        acc = 0.5 if i >= 8 else 0.6 + 0.03 * i
        rows.append({"family": family, "mode": "GRU", "index": i, "n": 10, "graph_seed": i, **row})
        rows[-1].update(test_acc=acc, test_loss=0.7, seconds=1.0)
    written = write_outputs(rows, tmp_path / "out")
    counts = pd.read_csv(written["table 1 counts"])
    assert counts[["graphs", "at_chance", "used"]].values.tolist() == [[12, 4, 8]]
    meta = pd.read_csv(written["meta-dataset"])
    assert meta["above_chance"].tolist() == [True] * 8 + [False] * 4
    table = pd.read_csv(written["table 1"]).set_index("property")
    assert table.loc["nodes", "GRU"] == pytest.approx(1.0)  # only the 8 learning models
    assert written["R² table"].endswith("r2.csv")  # 8 models above chance: R² defined
    family = pd.read_csv(written["summary"])
    assert family["at_chance"].sum() == 4 and family["graphs"].sum() == 12
    dead = [{**r, "test_acc": 0.5} for r in rows]
    none = write_outputs(dead, tmp_path / "none")
    table = pd.read_csv(none["table 1"]).set_index("property")
    assert table["GRU"].isna().all() and table["notes"].str.contains("no model beats chance").all()
    assert none["R² table"].startswith("skipped")


@pytest.mark.parametrize(
    "argv",
    [
        ["--modes", "bogus"],
        ["--families", "nope"],
        ["--n-min", "9", "--n-max", "5"],
        ["--count", "0"],
    ],
)
def test_cli_rejects_bad_options(tmp_path, argv):
    from hiddenstruct.cli.main import main

    with pytest.raises(SystemExit) if argv[0] == "--count" else _no_exit():
        code = main(
            [
                "experiment",
                "priors-rnn",
                "--output",
                str(tmp_path / "o"),
                "--store",
                str(tmp_path / "s.sqlite"),
                *argv,
            ]
        )
        assert code == 2
    assert not (tmp_path / "o").exists()


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_random_orientation_keeps_the_graph_and_default_hashes():
    from hiddenstruct.experiments.priors_rnn.experiment import build_graph
    from hiddenstruct.graphs import layers

    default = graph_trials(TINY)
    assert all("orientation" not in t for t in default)  # default configs hash as before
    randomised = graph_trials(replace(TINY, orientation="random"))
    assert {config_hash(t) for t in randomised}.isdisjoint(config_hash(t) for t in default)
    sources = []
    for plain, oriented in zip(default, randomised, strict=True):
        G, D = build_graph(plain), build_graph(oriented)
        assert D.is_directed() and not G.is_directed()
        assert set(map(frozenset, D.to_undirected().edges)) == set(map(frozenset, G.edges))
        assert D.edges == build_graph(oriented).edges  # seeded
        sources.append((len(layers(G)[0]), len(layers(D)[0])))
    assert any(a != b for a, b in sources)
    with pytest.raises(Exception, match="orientation"):
        replace(TINY, orientation="sideways")


def test_outputs_after_the_correlation_submodule_was_imported(tmp_path):
    import importlib

    import hiddenstruct.predict as predict

    importlib.import_module("hiddenstruct.predict.correlation")  # as sparse-routes' outputs
    assert callable(predict.correlations)
    rows = [
        {"family": f, "mode": "GRU", "index": i, "n": 10, "graph_seed": i, "test_acc": a,
         "test_loss": 1 - a, "density": d, "seconds": 1.0}
        for i, (f, a, d) in enumerate(
            [("ws", 0.9, 0.3), ("ws", 0.8, 0.4), ("ba", 0.7, 0.2), ("ba", 0.6, 0.5)]
        )
    ]  # fmt: skip
    written = write_outputs(rows, tmp_path)
    assert (tmp_path / "table1_correlations.csv").is_file() and "table 1" in written
