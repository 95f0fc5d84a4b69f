"""What the report says per experiment: the paper's claims next to this run's key numbers.

:data:`REPORT_SECTIONS` maps an experiment name to its :class:`SectionSpec` (heading, figure
and table order, and a ``summarize(folder) -> Summary`` function reading the experiment's
output files), in the paper's order §4.1 → §4.4. A new experiment adds one entry here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class Summary:
    """The paper's claims (bullets), this run's key numbers (a small table) and notes."""

    paper_claims: list[str] = field(default_factory=list)
    key_numbers: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SectionSpec:
    """One report section: heading, file order (glob patterns) and its summary function."""

    experiment: str
    heading: str
    figures: tuple[str, ...]
    tables: tuple[str, ...]
    summarize: Callable[[Path], Summary]


def _csv(folder: Path, name: str) -> pd.DataFrame | None:
    path = folder / name
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return None


def _pct(value) -> str:
    return (
        "n/a"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{100 * value:.1f} %"
    )


def summarize_prune_ffn(folder: Path) -> Summary:
    """Best method at 90 % removed and the accuracies the paper's claims are about."""
    claims = [
        "Magnitude class-blinded pruning clearly outperforms the other methods.",
        "Optimal Brain Damage performs nearly the same as class-blinded.",
        "Random pruning drops immediately; the other four stay near the unpruned accuracy "
        "for over 60 % compression (§5).",
    ]
    table = _csv(folder, "table.csv")
    if table is None or "acc@90%" not in table:
        return Summary(claims, None, ["no table.csv with acc@90% in this folder"])
    rows = []
    for (arch, schedule, retrain), part in table.groupby(["architecture", "schedule", "retrain"]):
        by = part.set_index("method")
        at90 = by["acc@90%"].dropna()
        at60 = by.get("acc@60%", pd.Series(dtype=float))
        others = at60.drop(labels=["random"], errors="ignore")
        rows.append(
            {
                "setting": f"{arch} · {schedule} · {'with' if retrain else 'without'} retraining",
                "unpruned": _pct(by["unpruned"].mean()),
                "best at 90 %": at90.idxmax() if len(at90) else "n/a",
                "class-blinded @90 %": _pct(at90.get("class_blinded")),
                "OBD @90 %": _pct(at90.get("obd")),
                "random @60 %": _pct(at60.get("random")),
                "worst non-random @60 %": _pct(others.min() if len(others) else None),
            }
        )
    return Summary(claims, pd.DataFrame(rows))


# Safely pruned fraction p per (scope, mode) as stated in §4.2.
PAPER_SAFE_P = {
    ("both", "RNN_TANH"): 0.8, ("both", "RNN_RELU"): 0.7, ("both", "LSTM"): 0.6, ("both", "GRU"): 0.8,
    ("i2h", "RNN_TANH"): 0.7, ("i2h", "RNN_RELU"): 0.7, ("i2h", "LSTM"): 0.7, ("i2h", "GRU"): 0.8,
    ("h2h", "RNN_TANH"): 0.8, ("h2h", "RNN_RELU"): 0.7, ("h2h", "LSTM"): 0.7, ("h2h", "GRU"): 0.8,
}  # fmt: skip


def summarize_prune_rnn(folder: Path) -> Summary:
    """Largest p pruned without an accuracy drop per (mode, scope), next to the paper's."""
    claims = [
        "Base models: RNN_ReLU, LSTM and GRU reach 100 % test accuracy; RNN_Tanh 90 %.",
        "Safely pruned (both): RNN_Tanh 80 %, RNN_ReLU 70 %, LSTM 60 %, GRU 80 %; "
        "i2h: 70 % (GRU 80 %); h2h: RNN_ReLU/LSTM 70 %, RNN_Tanh/GRU 80 %.",
        "One retraining epoch recovers up to 90 % pruning (RNN_Tanh i2h: two); 100 % never "
        "recovers, except h2h for LSTM and GRU.",
    ]
    summary = _csv(folder, "summary.csv")
    if summary is None or "tolerated_p" not in summary:
        return Summary(claims, None, ["no summary.csv in this folder"])
    rows = [
        {
            "mode": r["mode"],
            "scope": r["scope"],
            "base accuracy": _pct(r["base_accuracy"]),
            "safely pruned (this run)": f"{100 * r['tolerated_p']:.0f} %",
            "safely pruned (paper)": (
                f"{100 * PAPER_SAFE_P[(r['scope'], r['mode'])]:.0f} %"
                if (r["scope"], r["mode"]) in PAPER_SAFE_P
                else "n/a"
            ),
        }
        for _, r in summary.iterrows()
    ]
    return Summary(
        claims,
        pd.DataFrame(rows),
        [
            "safely pruned: largest p whose accuracy right after pruning stays within the tolerance of the base model"
        ],
    )


# Best regressor and R² per mode as stated in §4.3.
PAPER_BEST_R2 = {
    "RNN_TANH": ("BayesianRidge", 0.47919),
    "RNN_RELU": ("RandomForest", 0.61504),
    "LSTM": ("AdaBoost", 0.59514),
    "GRU": ("RandomForest", 0.87635),
}


def summarize_priors(folder: Path) -> Summary:
    """Mean accuracy per family (BA − WS) and the best R² per mode, next to the paper's."""
    claims = [
        "WS and BA priors perform equally with RNN_Tanh and RNN_ReLU; BA is better with LSTM and GRU.",
        "Best R² from graph properties: RNN_Tanh 0.48 (BR), RNN_ReLU 0.62 (RF), LSTM 0.60 (AB), GRU 0.88 (RF).",
    ]
    families = _csv(folder, "family_summary.csv")
    if families is None:
        return Summary(claims, None, ["no family_summary.csv in this folder"])
    means = families.pivot_table(index="mode", columns="family", values="test_acc_mean")
    r2 = _csv(folder, "r2.csv")
    rows = []
    for mode, row in means.iterrows():
        ws, ba = row.get("watts_strogatz", math.nan), row.get("barabasi_albert", math.nan)
        entry = {
            "mode": mode,
            "WS mean": _pct(ws),
            "BA mean": _pct(ba),
            "BA − WS": "n/a" if math.isnan(ba - ws) else f"{100 * (ba - ws):+.1f} pt",
        }
        if r2 is not None and "group" in r2:
            part = r2[r2["group"] == mode].dropna(subset=["split_r2"])
            best = part.loc[part["split_r2"].idxmax()] if len(part) else None
            entry["best R² (this run)"] = (
                "n/a" if best is None else f"{best['split_r2']:.2f} ({best['regressor']})"
            )
        else:
            entry["best R² (this run)"] = "n/a (too few graphs)"
        name, value = PAPER_BEST_R2.get(mode, ("", math.nan))
        entry["best R² (paper)"] = f"{value:.2f} ({name})" if name else "n/a"
        rows.append(entry)
    return Summary(
        claims,
        pd.DataFrame(rows),
        ["R² on one held-out split (see r2.csv for the cross-validated values)"],
    )


def summarize_nas(folder: Path) -> Summary:
    """Best validation accuracy, time and trained/estimated counts per search; the speed-up."""
    claims = [
        "Genetic NAS with architectural performance prediction on CIFAR-10; a meta-dataset of "
        "2 472 candidates × 56 structural features, split 70/30.",
        "The paper cites a 1.69× speed-up from performance prediction (Wendlinger et al. [42]); "
        "it reports no speed-up of its own.",
    ]
    path = folder / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Summary(claims, None, ["no readable summary.json in this folder"])
    rows = [
        {
            "search": name,
            "best val accuracy": _pct(s.get("best_val_accuracy")),
            "search seconds": f"{s.get('search_seconds', math.nan):.1f}",
            "trained": s.get("measured"),
            "estimated": s.get("estimated"),
        }
        for name, s in summary.items()
        if isinstance(s, dict) and "best_val_accuracy" in s
    ]
    notes = []
    speedup = summary.get("speedup_from_prediction")
    notes.append(
        f"speed-up from prediction in this run (search seconds): {speedup:.2f}×"
        if isinstance(speedup, (int, float))
        else "speed-up: n/a (needs both genetic searches)"
    )
    meta = _csv(folder, "meta_dataset.csv")
    if meta is not None:
        notes.append(f"meta-dataset: {len(meta)} measured candidates")
    return Summary(claims, pd.DataFrame(rows), notes)


REPORT_SECTIONS: dict[str, SectionSpec] = {
    "prune-ffn": SectionSpec(
        "prune-ffn", "§4.1 Pruning feed-forward networks",
        ("figure2a_*",), ("table.csv", "curves.csv"), summarize_prune_ffn,
    ),
    "prune-rnn": SectionSpec(
        "prune-rnn", "§4.2 Pruning recurrent networks",
        ("figure2b_*", "figure5a_*", "figure5b_*"), ("summary.csv", "points.csv"), summarize_prune_rnn,
    ),
    "priors-rnn": SectionSpec(
        "priors-rnn", "§4.3 Random structural priors for recurrent networks",
        ("figure7*", "table1_*"), ("family_summary.csv", "table1_correlations.csv", "r2.csv",
                                    "importances.csv", "meta_dataset.csv"), summarize_priors,
    ),
    "nas": SectionSpec(
        "nas", "§4.4 Architectural performance prediction in NAS",
        ("best_accuracy_over_time*", "figure8b_*", "best_genotype*"),
        ("feature_importances.csv", "generations.csv", "candidates.csv", "meta_dataset.csv"),
        summarize_nas,
    ),
    "relational-graphs": SectionSpec(
        "relational-graphs", "Relational graphs (graph2nn's study)",
        ("heatmap_CL_*", "error_vs_C_*", "error_vs_L_*", "coverage_*"),
        ("graphs.csv", "correlations.csv", "r2.csv"),
        lambda folder: _relational_summary(folder),
    ),
}  # fmt: skip


def _relational_summary(folder: Path) -> Summary:
    from hiddenstruct.experiments.relational_graphs_outputs import summarize

    return summarize(folder)


# Output folders whose trials are stored under another experiment name.
FOLDER_EXPERIMENTS = {"reber-rnn": "demo-reber-rnn"}
