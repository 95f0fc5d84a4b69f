"""Each paper claim in the report: this run's number and a verdict computed from the data;
the scale banner; chance-level models flagged."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hiddenstruct.experiments.nas import report_section as nas_report
from hiddenstruct.experiments.priors_rnn import report_section as priors_report
from hiddenstruct.experiments.prune_ffn import report_section as ffn_report
from hiddenstruct.experiments.prune_rnn import report_section as rnn_report
from hiddenstruct.experiments.report import scale_banner
from hiddenstruct.experiments.report_scale import differences
from hiddenstruct.experiments.sparse_routes import report_section as routes_report
from hiddenstruct.trials.store import TrialStore

METHODS = ["random", "class_blinded", "class_uniform", "class_distributed", "obd"]


def _ffn(folder, at90, at60, unpruned=0.97):
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {"architecture": "100", "schedule": "relative", "method": m, "retrain": False,
         "unpruned": unpruned, "acc@60%": at60[m], "acc@90%": at90[m]}
        for m in METHODS
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(folder / "table.csv", index=False)
    return ffn_report.summarize_prune_ffn(folder).claims


def test_prune_ffn_verdicts_follow_the_numbers(tmp_path):
    at60 = dict(
        random=0.6, class_blinded=0.96, class_uniform=0.95, class_distributed=0.95, obd=0.96
    )
    paper_like = dict(
        random=0.1, class_blinded=0.93, class_uniform=0.8, class_distributed=0.8, obd=0.92
    )
    claims = _ffn(tmp_path / "a", paper_like, at60)
    assert [c.verdict for c in claims] == ["agrees", "agrees", "agrees"]
    assert "class-blinded best in 1 of 1" in claims[0].ours
    obd_wins = {**paper_like, "obd": 0.99}
    claims = _ffn(tmp_path / "b", obd_wins, {**at60, "class_uniform": 0.8})
    assert [c.verdict for c in claims] == ["disagrees", "disagrees", "disagrees"]
    assert "obd" in claims[0].ours and "6.0 pt" in claims[1].ours  # |0.93 - 0.99|
    claims = _ffn(tmp_path / "c", paper_like, at60, unpruned=0.11)  # 10 classes: at chance
    assert {c.verdict for c in claims} == {"not comparable"}
    assert "chance" in claims[0].reason


@pytest.mark.parametrize(
    ("ours", "paper", "grid", "verdict"),
    [
        (0.7, 0.8, [0.3, 0.7, 0.9], "agrees"),  # 80 % lies in [70 %, 90 %)
        (0.3, 0.8, [0.3, 0.6, 0.9], "disagrees"),  # 60 % already failed
        (0.9, 0.8, [0.3, 0.6, 0.9], "disagrees"),  # more tolerant than the paper
        (float("nan"), 0.8, [0.3], "not comparable"),  # base model at chance
    ],
)
def test_safe_p_verdict_uses_the_grid(ours, paper, grid, verdict):
    assert rnn_report.safe_p_verdict(ours, paper, grid)[0] == verdict


def test_prune_rnn_summary_has_a_verdict_per_mode_and_scope(tmp_path):
    rows = [
        {"mode": "GRU", "scope": "both", "base_accuracy": 1.0, "tolerated_p": 0.7,
         "epochs@70%": "", "epochs@90%": "1"},
        {"mode": "LSTM", "scope": "both", "base_accuracy": 0.5, "tolerated_p": float("nan"),
         "epochs@70%": "", "epochs@90%": ""},
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "summary.csv", index=False)
    summary = rnn_report.summarize_prune_rnn(tmp_path)
    assert summary.key_numbers["verdict"].tolist() == ["agrees", "not comparable"]
    assert summary.key_numbers["base accuracy"].tolist()[1].endswith("(at chance)")
    assert [c.verdict for c in summary.claims] == ["agrees", "agrees", "agrees"]
    assert "1 of 1 comparable" in summary.claims[1].ours


def _priors(folder, ws, ba, mode="GRU"):
    folder.mkdir(parents=True, exist_ok=True)
    meta = pd.DataFrame(
        {"mode": mode, "family": ["watts_strogatz"] * len(ws) + ["barabasi_albert"] * len(ba),
         "test_acc": list(ws) + list(ba)}
    )  # fmt: skip
    meta.to_csv(folder / "meta_dataset.csv", index=False)
    family = meta.groupby(["mode", "family"])["test_acc"].mean().rename("test_acc_mean")
    family.reset_index().to_csv(folder / "family_summary.csv", index=False)
    return priors_report.summarize_priors(folder).claims[0]


def test_priors_family_verdict_from_a_test(tmp_path):
    ws = [0.70, 0.72, 0.71, 0.69, 0.73]
    ba = [0.90, 0.91, 0.89, 0.92, 0.90]
    assert _priors(tmp_path / "a", ws, ba, "GRU").verdict == "agrees"  # BA better, as the paper
    assert _priors(tmp_path / "b", ba, ws, "GRU").verdict == "disagrees"  # WS better
    few = _priors(tmp_path / "c", ws, [0.71, 0.70, 0.72, 0.69, 0.73], "RNN_TANH")
    assert few.verdict == "not comparable" and "equality" in few.reason  # 5 graphs: no proof
    dead = _priors(tmp_path / "d", ws, [0.5] * 5, "GRU")  # every BA model at chance
    assert dead.verdict == "not comparable" and "BA did not learn" in dead.reason


def test_nas_speedup_is_time_to_reach(tmp_path):
    gens = [
        dict(search="no_prediction", elapsed=10.0, best_measured=0.5),
        dict(search="no_prediction", elapsed=30.0, best_measured=0.8),
        dict(search="prediction", elapsed=12.0, best_measured=0.81),
    ]
    pd.DataFrame(gens).to_csv(tmp_path / "generations.csv", index=False)
    (tmp_path / "summary.json").write_text(json.dumps({"speedup_from_prediction": 0.4}))
    (claim,) = nas_report.summarize_nas(tmp_path).claims
    assert claim.verdict == "agrees" and "speed-up 2.50×" in claim.ours  # 30 s / 12 s
    gens[2]["best_measured"] = 0.7
    pd.DataFrame(gens).to_csv(tmp_path / "generations.csv", index=False)
    (claim,) = nas_report.summarize_nas(tmp_path).claims
    assert claim.verdict == "disagrees" and "with prediction not reached" in claim.ours


def test_sparse_routes_section_flags_routes_at_chance(tmp_path):
    pd.DataFrame(
        [{"model": "lenet", "route": "set", "density": 0.1, "accuracy_mean": 0.11, "n": 1},
         {"model": "lenet", "route": "rigl", "density": 0.1, "accuracy_mean": 0.9, "n": 1}]
    ).to_csv(tmp_path / "accuracy.csv", index=False)  # fmt: skip
    summary = routes_report.summarize_sparse_routes(tmp_path)
    assert summary.claims == []  # the paper has no such experiment
    assert summary.key_numbers["learns"].tolist() == ["no (at chance)", "yes"]
    assert any("1 of 2" in n for n in summary.notes)


def test_scale_banner_names_each_difference_from_the_paper_preset(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    assert "Scale unknown" in scale_banner("prune-ffn", None)
    assert "no prune-ffn trials" in scale_banner("prune-ffn", store)
    config = {"dataset": "digits", "hidden": [100], "epochs": 25, "repeat": 0}
    store.register("prune-ffn", config)
    found = dict((label, (ours, paper)) for label, ours, paper in differences("prune-ffn", store))
    assert found["data set"] == ("digits", "mnist") and found["epochs"] == ("25", "200")
    assert found["repeats"] == ("1", "5")
    banner = scale_banner("prune-ffn", store)
    assert "Not the paper" in banner and "docs/reproduction.md" in banner
    for repeat in range(5):
        for hidden in ([100], [300, 100]):
            store.register(
                "prune-ffn", {"dataset": "mnist", "hidden": hidden, "epochs": 200, "repeat": repeat}
            )
    paper = TrialStore(tmp_path / "paper.sqlite")
    for trial in store.trials("prune-ffn"):
        if trial.config["dataset"] == "mnist":
            paper.register("prune-ffn", trial.config)
    assert differences("prune-ffn", paper) == [] and scale_banner("prune-ffn", paper) == ""


def test_sparse_routes_correlations_leave_out_trials_at_chance():
    from hiddenstruct.experiments.sparse_routes.outputs import above_chance, correlation_table

    rows = [
        {"model": "lenet", "test_accuracy": acc, "above_chance": above_chance("lenet", acc),
         "density": d}
        for acc, d in ((0.5, 0.1), (0.7, 0.2), (0.9, 0.3), (0.1, 0.9), (0.12, 0.8))
    ]  # fmt: skip
    assert [r["above_chance"] for r in rows] == [True, True, True, False, False]
    (row,) = correlation_table(rows, ["density"])
    assert (row["n"], row["at_chance"]) == (3, 2)
    assert row["r"] == pytest.approx(1.0)  # with the two at-chance trials r would be negative
