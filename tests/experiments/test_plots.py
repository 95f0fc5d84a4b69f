"""The paper's figures from DataFrames: files, titles, axes and annotations (read from the SVG text)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from hiddenstruct.experiments.nas.figures import (
    best_over_time,
    figure8b,
    reach_summary,
    top_features,
)
from hiddenstruct.experiments.priors_rnn.figures import PAPER_TABLE1, figure7, table1_heatmap
from hiddenstruct.experiments.prune_ffn.figures import figure2a, recurrent_scope_figures

METHODS = ["random", "class_blinded", "class_uniform", "class_distributed", "obd"]


def svg_text(path) -> str:
    return open(str(path).replace(".png", ".svg"), encoding="utf-8").read()


def _curves(repeats=3):
    rng = np.random.default_rng(0)
    rows = []
    for retrain in (False, True):
        for method in METHODS:
            for repeat in range(repeats):
                for step, z in enumerate([0, 0.2, 0.36, 0.5, 0.6, 0.8, 0.9, 0.95]):
                    acc = 0.97 - 0.4 * z**3 + rng.normal(0, 0.005)
                    rows.append(
                        dict(
                            architecture="300-100",
                            method=method,
                            schedule="relative",
                            retrain=retrain,
                            repeat=repeat,
                            step=step,
                            zero_fraction=z,
                            accuracy=acc,
                        )
                    )
    return pd.DataFrame(rows)


def test_figure2a_two_panels_percent_axes_dataset_and_architecture_in_title(tmp_path):
    written = figure2a(_curves(), "MNIST", tmp_path, {"300-100": "784-300-100-10"})
    assert list(written) == ["figure2a_300-100_relative"]
    png = tmp_path / "figure2a_300-100_relative.png"
    assert png.stat().st_size > 10_000 and png.with_suffix(".svg").is_file()
    text = svg_text(png)
    for needed in (
        "Figure 2a",
        "MNIST",
        "784-300-100-10",
        "over 3 repeats",
        "without retraining",
        "with retraining",
        "Optimal Brain Damage",
        "80%",
    ):
        assert needed in text, needed
    # shared y-axis: the right panel's y tick labels are hidden, so each % label appears
    # on the x axes of both panels plus once on the left y axis at most
    assert text.count(">weights removed<") == 2


def test_recurrent_figures_per_scope_with_chance_line(tmp_path):
    rows = [
        dict(
            mode=m,
            repeat=r,
            scope=s,
            p=p / 10,
            base_accuracy=1.0,
            accuracy_pruned=0.9,
            accuracy_retrained=1.0,
        )
        for m in ("GRU", "RNN_TANH")
        for r in range(2)
        for s in ("both", "h2h")
        for p in range(1, 11)
    ]
    written = recurrent_scope_figures(pd.DataFrame(rows), tmp_path)
    assert set(written) == {"figure2b_both", "figure5b_h2h"}  # no i2h points, no 5a
    text = svg_text(written["figure2b_both"])
    for needed in (
        "Figure 2b",
        "right after pruning",
        "after 1 retraining epoch",
        "chance",
        "RNN_Tanh",
        "100%",
    ):
        assert needed in text, needed
    assert text.index("RNN_Tanh") < text.index("GRU")  # the paper's mode order


def test_figure7_box_and_points_chance_line_and_y_from_0_4(tmp_path):
    rng = np.random.default_rng(1)
    meta = pd.DataFrame(
        [
            dict(mode=m, family=f, test_acc=rng.uniform(0.6, 0.95))
            for m in ("LSTM", "GRU")
            for f in ("barabasi_albert", "watts_strogatz")
            for _ in range(8)
        ]
    )
    path = figure7(meta, tmp_path / "figure7.png")
    text = svg_text(path)
    assert "(7c) LSTM" in text and "(7d) GRU" in text and "chance" in text
    assert text.index(">WS") < text.index(">BA")
    assert ">0.4<" in text and ">1.0<" in text and "(n=8)" in text


def test_figure7_never_hides_a_point_below_0_4(tmp_path):
    meta = pd.DataFrame(
        [dict(mode="GRU", family="watts_strogatz", test_acc=a) for a in (0.31, 0.8)]
    )
    text = svg_text(figure7(meta, tmp_path / "f7.png"))
    assert ">0.3<" in text


def test_table1_heatmap_annotates_every_cell_and_marks_undefined(tmp_path):
    table = PAPER_TABLE1.copy()
    table.iloc[0, 0] = np.nan
    text = svg_text(table1_heatmap(table.reset_index(), tmp_path / "t1.png"))
    assert "n/a" in text and "this run" in text and "paper" in text
    assert text.count(">0.74<") == 2  # GRU source_nodes, ours and the paper's
    cells = re.findall(r">(-?\d\.\d\d)<", text)
    assert len(cells) >= 2 * table.size - 1  # every cell (plus colorbar ticks)


def test_figure8b_shows_top_k_features_only(tmp_path):
    names = [f"feat_{i:02d}" for i in range(56)]
    corr = pd.DataFrame({"feature": names, "pearson_r": np.linspace(-0.5, 0.5, 56)})
    imp = pd.DataFrame({"feature": names, "importance": np.arange(56, dtype=float)})
    top = top_features(corr, imp, 10)
    assert list(top["feature"]) == names[::-1][:10]
    text = svg_text(figure8b(corr, tmp_path / "f8b.png", imp, k=10, measured=40))
    shown = set(re.findall(r"feat_\d\d", text))
    assert shown == set(names[-10:])
    assert "top 10 of 56" in text


def test_best_over_time_caption_states_time_to_reach_and_cited_speedup(tmp_path):
    # without prediction: best 0.34 at 40 s; with prediction: 0.34 reached at 20 s
    gens = pd.DataFrame(
        [
            dict(search="no_prediction", elapsed=g * 10.0, best_measured=0.3 + 0.01 * g)
            for g in range(5)
        ]
        + [
            dict(search="prediction", elapsed=g * 10.0, best_measured=0.3 + 0.02 * g)
            for g in range(5)
        ]
    )
    reach = reach_summary(gens)
    assert reach["target"] == pytest.approx(0.34)
    assert (reach["seconds_without"], reach["seconds_with"]) == (40.0, 20.0)
    text = svg_text(best_over_time(gens, tmp_path / "b.png", "cifar10"))
    assert "2.00×" in text and "1.69×" in text and "cifar10" in text and "chance 10 %" in text
    slower = gens.assign(
        best_measured=gens["best_measured"].where(gens["search"] != "prediction", 0.3)
    )
    assert math.isnan(reach_summary(slower)["seconds_with"])
    text = svg_text(best_over_time(slower, tmp_path / "c.png", "cifar10"))
    assert "with prediction not reached" in text
    only = svg_text(best_over_time(gens[gens["search"] == "prediction"], tmp_path / "d.png", "x"))
    assert "n/a" in only


@pytest.mark.parametrize("name", ["figure2a", "figure7"])
def test_figures_need_their_columns(tmp_path, name):
    with pytest.raises(KeyError):
        {"figure2a": figure2a, "figure7": figure7}[name](
            pd.DataFrame({"x": [1]}),
            *(["MNIST", tmp_path] if name == "figure2a" else [tmp_path / "f.png"]),
        )


def test_table1_heatmap_ignores_the_notes_column(tmp_path):
    table = PAPER_TABLE1.copy()
    table["notes"] = ""  # predict.correlations(..., notes=True) adds why r is NaN
    table.loc[table.index[0], "notes"] = "RNN_TANH: constant feature"
    text = svg_text(table1_heatmap(table.reset_index(), tmp_path / "t1.png"))
    assert text.count(">0.74<") == 2 and "constant feature" not in text
