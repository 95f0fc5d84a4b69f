"""The sparse-routes experiment at toy scale: every route at the exact density, resumable."""

from __future__ import annotations

import csv
import math

import pytest

from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.sparse_routes import experiment as sr
from hiddenstruct.experiments.sparse_routes import trial as sr_trial
from hiddenstruct.trials.store import TrialStore

TOY = dict(
    sr.PRESETS["demo"],
    routes=("pruning", "static_erk", "l1", "rigl"),
    densities=(0.2,),
    repeats=2,
    reber_n=120,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sparse_routes")
    store = TrialStore(folder / "store.sqlite")
    config = sr.SparseRoutesConfig(**TOY)
    written = sr.SPARSE_ROUTES.run(config, store, folder / "out", progress=False)
    return config, store, written, folder


def _read(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_every_trial_finishes_at_its_exact_density(run):
    config, store, written, _ = run
    records = store.trials(sr.EXPERIMENT)
    assert len(records) == len(sr.trials(config)) == 2 * 4 * 1 * 2
    assert all(r.status == "done" for r in records)
    for r in records:
        assert r.result["density"] == pytest.approx(r.config["density"], abs=1e-3)
        assert r.result["trajectory"][-1]["xi"] == r.result["density"]
        assert r.result["cost"] > 0


def test_accuracy_table_has_mean_std_and_n_per_group(run):
    _, _, written, _ = run
    rows = _read(written["accuracy"])
    assert len(rows) == 2 * 4 * 1
    assert all(int(row["n"]) == 2 for row in rows)
    results = _read(written["results"])
    for row in rows:
        values = [
            float(r["test_accuracy"])
            for r in results
            if (r["model"], r["route"], r["density"])
            == (row["model"], row["route"], row["density"])
        ]
        assert float(row["accuracy_mean"]) == pytest.approx(sum(values) / len(values))


def test_correlations_are_pearson_r_or_nan_with_a_note(run):
    _, _, written, _ = run
    for row in _read(written["correlations"]):
        r = float(row["r"])
        assert (math.isnan(r) and row["note"]) or -1.0 - 1e-9 <= r <= 1.0 + 1e-9


def test_rerun_resumes_without_training_again(run):
    config, store, _, folder = run
    before = {r.hash: r.finished_at for r in store.trials(sr.EXPERIMENT)}
    sr.SPARSE_ROUTES.run(config, store, folder / "out2", progress=False)
    after = {r.hash: r.finished_at for r in store.trials(sr.EXPERIMENT)}
    assert before == after


def test_figures_are_written(run):
    _, _, written, _ = run
    for model in ("lenet", "reber_gru"):
        assert written[f"accuracy_{model}"].endswith(".png")
        assert written[f"trajectory_{model}"].endswith(".png")


def test_bad_settings_are_usage_errors():
    with pytest.raises(UsageError, match="rigl"):
        sr.SparseRoutesConfig(routes=("lottery",))
    with pytest.raises(UsageError, match="densities"):
        sr.SparseRoutesConfig(densities=(0.0,))


def test_topology_distances_between_routes(run):
    """Every pair of routes of one model, density and repeat: a distance in [0, 1] that
    equals the one computed from the trials' own final masks; a heat map per model."""
    from hiddenstruct.experiments.sparse_routes import topology as topo
    from hiddenstruct.graphs import topology_distance
    from hiddenstruct.nn.masking import apply_masks
    from hiddenstruct.sparse_training import mask_graph

    config, store, written, _ = run
    rows = _read(written["topology"])
    assert len(rows) == 2 * 2 * 6  # models × repeats × pairs of 4 routes
    assert all(0.0 <= float(r["distance"]) <= 1.0 for r in rows)
    records = {
        (r.config["model"], r.config["repeat"], r.config["route"]): r
        for r in store.trials(sr.EXPERIMENT)
    }
    row = next(r for r in rows if r["model"] == "lenet" and r["repeat"] == "1")
    graphs = []
    for route in (row["route_a"], row["route_b"]):
        record = records[("lenet", 1, route)]
        model = sr_trial.build_model(record.config)
        apply_masks(model, topo.decode_masks(record.result["final_masks"]))
        graphs.append(mask_graph(model, include_io=True))
    assert float(row["distance"]) == pytest.approx(topology_distance(*graphs), abs=1e-12)
    # LeNet's routes all end at other masks (the tiny GRU's rigl makes no update in its three
    # steps, so it keeps the ERK start it shares with static_erk: distance 0 there)
    assert all(float(r["distance"]) > 0 for r in rows if r["model"] == "lenet")
    for model in ("lenet", "reber_gru"):
        assert written[f"topology_{model}"].endswith(".png")


def test_masks_round_trip_through_their_text_form():
    import torch

    from hiddenstruct.experiments.sparse_routes import topology as topo
    from hiddenstruct.nn import MaskedDeepFFN, apply_mask, masks

    net = MaskedDeepFFN(7, 3, [5])
    gen = torch.Generator().manual_seed(0)
    for layer in net.layers:
        apply_mask(layer, "weight", torch.rand(layer.weight.shape, generator=gen) < 0.4)
    decoded = topo.decode_masks(topo.encode_masks(net))
    assert decoded.keys() == masks(net).keys()
    for name, mask in masks(net).items():
        assert torch.equal(decoded[name], mask.bool())


def test_trials_stored_without_masks_give_a_note_not_a_distance(run):
    import dataclasses

    from hiddenstruct.experiments.sparse_routes import topology as topo

    _, store, _, _ = run
    old = [
        dataclasses.replace(r, result={k: v for k, v in r.result.items() if k != "final_masks"})
        for r in store.trials(sr.EXPERIMENT)
    ]
    rows = topo.topology_rows(old, sr_trial.build_model)
    assert len(rows) == 4  # one per (model, density, repeat) group
    assert all(math.isnan(r["distance"]) and "only 0 trial(s)" in r["note"] for r in rows)
