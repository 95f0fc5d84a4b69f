"""Tables, figures and the report summary of the relational-graphs experiment.

Per model: the mean error per graph, graph2nn's sweet spot — the best graph (lowest mean
error, complete graph excluded) against every other by a two-sample t-test (SciPy's
``ttest_ind``, equal variances); a graph is *significantly worse* when its mean is higher and
the one-sided p (half the two-sided) is below 0.05; the sweet spot is the rest, and its C and L
ranges — Pearson correlations of the mean error with C, L and the structural properties (paper Table 1) of the
relational graph (``n`` graphs shown), and the cross-validated R² of our ``predict`` regressors
(error from the properties). With one seed per graph the t-test is undefined: NaN, with the
reason. graph2nn pick the *third*-lowest mean as "best" for their MLP (their notebook: "best
model in MLP has high variance"); we take the lowest and say so.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from hiddenstruct.trials.store import TrialRecord

#: graph2nn's published 5-layer MLP on CIFAR-10 (their analysis notebook, 3 942 graphs, 5 seeds,
#: 200 epochs; top-1 error %, mean ± std over seeds with NumPy's default ddof 0)
GRAPH2NN_MLP = {
    "complete_error": (33.34, 0.36),
    "best_error": (32.05, 0.14),
    "sweet_spot_C": (0.0907, 0.7187),
    "sweet_spot_L": (1.633, 3.042),
    "graphs": 3942,
    "seeds": 5,
    "epochs": 200,
}
ALPHA = 0.05
SETTING_KEYS = ("dataset", "nodes", "width", "layers", "epochs", "train_size", "eval_split")
RNN_SETTING_KEYS = ("nodes", "hidden", "rnn_layers", "reber_epochs", "reber_n")


def result_rows(records: list[TrialRecord]) -> list[dict[str, Any]]:
    """One flat row per finished trial."""
    rows = []
    for record in records:
        if record.status != "done":
            continue
        c, r = record.config, record.result
        rows.append(
            {
                "model": c["model"], "graph": c["graph"], "k": c["k"], "p": c["p"],
                "graph_seed": c["graph_seed"], "seed": c["seed"], "nodes": c["nodes"],
                "error": r["error"], "accuracy": r["accuracy"], "width": r["width"],
                "macs": r["macs"], "baseline_macs": r["baseline_macs"], "C": r["C"], "L": r["L"],
                "edges": r["edges"], "seconds": r["seconds"], **r["properties"],
            }
        )  # fmt: skip
    return rows


def _std(values) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def graph_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and sample std (ddof 1) of the error per (model, graph), with C, L and properties."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["model"], row["graph"], row["k"], row["p"], row["graph_seed"])].append(row)
    table = []
    for _key, members in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != "complete", kv[0][2:])
    ):
        errors = [m["error"] for m in members]
        first = members[0]
        entry = {
            k: v for k, v in first.items() if k not in ("seed", "error", "accuracy", "seconds")
        }
        entry.update(
            error_mean=float(np.mean(errors)), error_std=_std(errors), n_seeds=len(errors),
            errors=";".join(f"{e:.4f}" for e in errors),
        )  # fmt: skip
        table.append(entry)
    return table


def sweet_spot(table: list[dict[str, Any]], model: str) -> dict[str, Any]:
    """graph2nn's sweet spot of one model (see the module docstring) and complete vs best."""
    from scipy.stats import ttest_ind

    part = [g for g in table if g["model"] == model]
    complete = next((g for g in part if g["graph"] == "complete"), None)
    graphs = [g for g in part if g["graph"] != "complete"]
    out: dict[str, Any] = {"model": model, "graphs": len(graphs), "alpha": ALPHA}
    out["test"] = "scipy.stats.ttest_ind(best, other), worse when t < 0 and p/2 < alpha"
    if complete is not None:
        out["complete_error_mean"] = complete["error_mean"]
        out["complete_error_std"] = complete["error_std"]
        out["complete_seeds"] = complete["n_seeds"]
    if not graphs:
        out["reason"] = "no finished relational-graph trials"
        return out
    tested = [g for g in graphs if g["n_seeds"] >= 2]
    if len(tested) < len(graphs):
        out["one_seed_graphs_left_out"] = len(graphs) - len(tested)
    best = min(tested or graphs, key=lambda g: g["error_mean"])
    out.update(
        best_error_mean=best["error_mean"], best_error_std=best["error_std"], best_C=best["C"],
        best_L=best["L"], best_k=best["k"], best_p=best["p"], best_seeds=best["n_seeds"],
    )  # fmt: skip
    best_errors = [float(e) for e in best["errors"].split(";")]
    if not tested:
        out["reason"] = "the t-test needs at least 2 seeds per graph"
        for key in ("C_min", "C_max", "L_min", "L_max", "in_sweet_spot"):
            out[key] = math.nan
        return out

    def worse(g) -> bool:
        errors = [float(e) for e in g["errors"].split(";")]
        with warnings.catch_warnings():  # equal samples: SciPy warns and returns NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            stat, p = ttest_ind(best_errors, errors)
        return bool(stat < 0 and p / 2 < ALPHA)  # NaN (identical constant samples) → not worse

    spot = [g for g in tested if not worse(g)]
    out.update(
        in_sweet_spot=len(spot), C_min=min(g["C"] for g in spot), C_max=max(g["C"] for g in spot),
        L_min=min(g["L"] for g in spot), L_max=max(g["L"] for g in spot),
    )  # fmt: skip
    if complete is not None and complete["n_seeds"] >= 2:
        out["complete_in_sweet_spot"] = not worse(complete)
    return out


def correlation_rows(table: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """Pearson r of the mean error with C, L and each property over the relational graphs
    (complete graph excluded), per model; NaN with a note when undefined."""
    # stats.pearson, not hiddenstruct.predict.correlations: importing that submodule first
    # shadows the package's lazily exported correlations() function with the module
    from hiddenstruct.stats import pearson

    out = []
    for model in sorted({g["model"] for g in table}):
        graphs = [g for g in table if g["model"] == model and g["graph"] != "complete"]
        for name in ["C", "L", *names]:
            pairs = [
                (g[name], g["error_mean"]) for g in graphs if name in g and math.isfinite(g[name])
            ]
            r, note = math.nan, ""
            if len(pairs) < 3:
                note = f"only {len(pairs)} graphs"
            else:
                x, y = np.array(pairs, dtype=float).T
                value = pearson(x, y)
                r, note = value.value, value.reason or ""
            out.append({"model": model, "property": name, "r": r, "n": len(pairs), "note": note})
    return out


def r2_table(table: list[dict[str, Any]], names: list[str], seed: int = 7):
    """Cross-validated R² of our regressors predicting the mean error from the properties
    (and C, L), per model; a row with the reason when too few graphs."""
    import pandas as pd

    from hiddenstruct.predict import evaluate_regressors

    df = pd.DataFrame([g for g in table if g["graph"] != "complete"])
    frames = []
    for model, part in df.groupby("model"):
        n = len(part)
        if n < 6:
            frames.append(
                pd.DataFrame([{"group": model, "notes": f"skipped: {n} graphs (need 6)"}])
            )
            continue
        features = tuple(c for c in ["C", "L", *names] if c in part and part[c].notna().all())
        scores = evaluate_regressors(
            part, target="error_mean", features=features, seed=seed,
            test_size=max(0.1, 2.0 / n), cv=min(5, n // 2),
        )  # fmt: skip
        scores["group"] = model
        frames.append(scores)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_figures(
    table, spots: dict[str, dict[str, Any]], out_dir: Path, config=None
) -> dict[str, str]:
    """Per model: the C–L heat map of mean error, error vs C, error vs L, coverage."""
    from matplotlib.patches import Rectangle

    from hiddenstruct.experiments.figures import new_figure, save_figure
    from hiddenstruct.graphs.relational import GRAPH2NN_L_MAX

    written = {}
    for model, spot in spots.items():
        graphs = [g for g in table if g["model"] == model and g["graph"] != "complete"]
        if not graphs:
            continue
        n = graphs[0]["nodes"]
        resolution = config.resolution if config is not None else 15
        l_max = (
            (config.l_max if config is not None else 0)
            or GRAPH2NN_L_MAX.get(n)
            or max(g["L"] for g in graphs)
        )
        C = np.array([g["C"] for g in graphs])
        L = np.array([g["L"] for g in graphs])
        err = np.array([g["error_mean"] for g in graphs])
        sums = np.zeros((resolution, resolution))
        counts = np.zeros((resolution, resolution))
        for c, length, e in zip(C, L, err, strict=True):
            ci = min(int(c * resolution), resolution - 1)
            li = min(max(int((length - 1) / (l_max - 1) * resolution), 0), resolution - 1)
            sums[li, ci] += e
            counts[li, ci] += 1
        with np.errstate(invalid="ignore"):
            grid = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        fig, axes = new_figure(8.4, 4.2)
        ax = axes[0][0]
        mesh = ax.pcolormesh(
            np.linspace(0, 1, resolution + 1), np.linspace(1, l_max, resolution + 1),
            np.ma.masked_invalid(grid), cmap="Blues_r", shading="flat",
        )  # fmt: skip
        fig.colorbar(mesh, ax=ax, label="mean error (%)")
        if "best_C" in spot:
            ax.scatter(
                [spot["best_C"]], [spot["best_L"]], marker="x", color="#b02318", s=60, label="best"
            )
        if isinstance(spot.get("C_min"), float) and math.isfinite(spot["C_min"]):
            ax.add_patch(Rectangle(
                (spot["C_min"], spot["L_min"]), spot["C_max"] - spot["C_min"], spot["L_max"] - spot["L_min"],
                fill=False, linestyle="--", edgecolor="#b02318", label="sweet spot",
            ))  # fmt: skip
        ax.set_xlabel("clustering coefficient C")
        ax.set_ylabel("average path length L")
        complete = spot.get("complete_error_mean", math.nan)
        ax.set_title(
            f"{model}: mean error per (C, L) bin; complete graph {complete:.2f} %", fontsize=9
        )
        ax.legend(fontsize=7)
        written[f"heatmap_CL_{model}"] = str(
            save_figure(fig, out_dir / f"heatmap_CL_{model}.png")[0]
        )
        for axis, values in (("C", C), ("L", L)):
            fig, axes = new_figure(8.4, 4.2)
            ax = axes[0][0]
            std = np.nan_to_num(np.array([g["error_std"] for g in graphs]))
            ax.errorbar(
                values, err, yerr=std, fmt="o", markersize=3, capsize=2, label="relational graphs"
            )
            if math.isfinite(complete):
                ax.axhline(complete, color="#b02318", linestyle="--", label="complete graph")
            ax.set_xlabel("clustering coefficient C" if axis == "C" else "average path length L")
            ax.set_ylabel("error (%)")
            ax.set_title(f"{model}: error vs {axis} (mean ± std over seeds)", fontsize=9)
            ax.legend(fontsize=7)
            written[f"error_vs_{axis}_{model}"] = str(
                save_figure(fig, out_dir / f"error_vs_{axis}_{model}.png")[0]
            )
        written[f"coverage_{model}"] = str(
            coverage_figure(C, L, out_dir / f"coverage_{model}.png", f"{model}: graphs of this run")
        )
    return written


def coverage_figure(C, L, path: Path, title: str) -> Path:
    """The (C, L) points of a graph set against graph2nn's published sweet-spot box and the
    extent of their heat maps (C 0–1, L 1–4.5 for 64 nodes)."""
    from matplotlib.patches import Rectangle

    from hiddenstruct.experiments.figures import new_figure, save_figure

    fig, axes = new_figure(8.4, 4.2)
    ax = axes[0][0]
    ax.scatter(C, L, s=8, label=f"{len(C)} graphs")
    (c0, c1), (l0, l1) = GRAPH2NN_MLP["sweet_spot_C"], GRAPH2NN_MLP["sweet_spot_L"]
    ax.add_patch(Rectangle((c0, l0), c1 - c0, l1 - l0, fill=False, linestyle="--",
                           edgecolor="#b02318", label="graph2nn MLP sweet spot"))  # fmt: skip
    ax.add_patch(Rectangle((0, 1), 1, 3.5, fill=False, linestyle=":", edgecolor="grey",
                           label="graph2nn heat-map extent"))  # fmt: skip
    ax.set_xlabel("clustering coefficient C")
    ax.set_ylabel("average path length L")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return save_figure(fig, path)[0]


def write_outputs(records: list[TrialRecord], out_dir: Path, config=None) -> dict[str, str]:
    from hiddenstruct.graphs.properties import PROPERTY_NAMES
    from hiddenstruct.outputs import write_csv, write_json
    from hiddenstruct.predict import write_table
    from hiddenstruct.trials.outcome import require_finished

    rows = result_rows(records)
    if not rows:
        require_finished("relational-graphs", records)
    names = [n for n in PROPERTY_NAMES if any(n in r for r in rows)]
    out_dir.mkdir(parents=True, exist_ok=True)
    table = graph_table(rows)
    spots = {m: sweet_spot(table, m) for m in sorted({r["model"] for r in rows})}
    for model, spot in spots.items():
        first = next(r for r in records if r.status == "done" and r.config["model"] == model)
        keys = SETTING_KEYS if model == "mlp" else RNN_SETTING_KEYS
        spot["setting"] = {k: first.config.get(k) for k in keys}
    written = {
        "results": str(write_csv(out_dir / "results.csv", rows)),
        "graphs": str(write_csv(out_dir / "graphs.csv", table)),
        "correlations": str(
            write_csv(out_dir / "correlations.csv", correlation_rows(table, names))
        ),
    }
    written["sweet spot"] = str(
        write_json(out_dir / "sweet_spot.json", {"graph2nn_mlp_cifar10": GRAPH2NN_MLP, **spots})
    )
    written["R² table"] = str(write_table(r2_table(table, names), out_dir / "r2.csv"))
    written.update(write_figures(table, spots, out_dir, config))
    written["trials"] = f"{len(rows)}/{len(records)} done"
    return written


# ---- the report's section ------------------------------------------------------------------------
#: graph2nn's claims (their paper and analysis notebook) and the number each one states
CLAIMS = (
    ("graph2nn: a sweet spot of relational graphs not significantly worse than the best "
     "(one-sided t-test, 0.05) lies at moderate clustering and path length",
     "graph2nn: C 0.09–0.72, L 1.63–3.04 (MLP, CIFAR-10, 3 942 graphs × 5 seeds, 200 epochs)"),
    ("graph2nn: the best relational graph beats the complete graph at equal multiply-adds",
     "graph2nn: best 32.05 ± 0.14 % vs complete 33.34 ± 0.36 % top-1 error (MLP, CIFAR-10)"),
)  # fmt: skip


def _fmt(value, digits: int = 2) -> str:
    finite = isinstance(value, (int, float)) and math.isfinite(value)
    return f"{value:.{digits}f}" if finite else "n/a"


def _scale(spot: dict[str, Any]) -> tuple[bool, str]:
    """(same task and scale as graph2nn's MLP, a short description of this run's setting)."""
    setting = spot.get("setting", {})
    model = spot.get("model")
    if model != "mlp":
        return False, f"{model} on Reber strings, not graph2nn's MLP on CIFAR-10"
    text = (
        f"{setting.get('dataset')}, {setting.get('nodes')} nodes, width {setting.get('width')}, "
        f"{setting.get('epochs')} epochs"
    )
    same = setting.get("dataset") == "cifar10" and setting.get("nodes") == 64
    return same and (setting.get("epochs") or 0) >= 100, text


def claims(spot: dict[str, Any]):
    """The two claims with this run's numbers and verdicts, for one model's sweet spot."""
    from hiddenstruct.experiments.report_sections import AGREES, DISAGREES, NOT_COMPARABLE, Claim

    model = spot.get("model")
    comparable, setting = _scale(spot)
    (text1, paper1), (text2, paper2) = CLAIMS
    if isinstance(spot.get("C_min"), float) and math.isfinite(spot["C_min"]):
        ours = (
            f"{model}: C {_fmt(spot['C_min'])}–{_fmt(spot['C_max'])}, L {_fmt(spot['L_min'])}–"
            f"{_fmt(spot['L_max'])} ({spot.get('in_sweet_spot')} of {spot.get('graphs')} graphs)"
        )
        (c0, c1), (l0, l1) = GRAPH2NN_MLP["sweet_spot_C"], GRAPH2NN_MLP["sweet_spot_L"]
        inside = (
            c0 <= spot["C_min"]
            and spot["C_max"] <= c1
            and l0 <= spot["L_min"]
            and spot["L_max"] <= l1
        )
        if comparable:
            first = Claim(text1, paper1, ours, AGREES if inside else DISAGREES,
                          "agrees when this run's sweet spot lies inside graph2nn's box")  # fmt: skip
        else:
            first = Claim(text1, paper1, ours, NOT_COMPARABLE, f"not at this scale: {setting}")
    else:
        first = Claim(text1, paper1, "n/a", NOT_COMPARABLE, spot.get("reason", "no sweet spot"))
    if isinstance(spot.get("complete_in_sweet_spot"), bool):
        beats = not spot["complete_in_sweet_spot"]
        ours = (
            f"{model}: best {_fmt(spot.get('best_error_mean'))} ± {_fmt(spot.get('best_error_std'))} % "
            f"vs complete {_fmt(spot.get('complete_error_mean'))} ± "
            f"{_fmt(spot.get('complete_error_std'))} % ({spot.get('complete_seeds')} seeds)"
        )
        if beats:
            verdict, why = (
                AGREES,
                "the complete graph is significantly worse than the best (one-sided t, 0.05)",
            )
        elif spot.get("complete_error_mean", math.inf) <= spot.get("best_error_mean", -math.inf):
            verdict, why = DISAGREES, "the complete graph has the lowest mean error"
        else:
            verdict, why = NOT_COMPARABLE, "the best graph's lead is not significant at these seeds"
        second = Claim(text2, paper2, ours, verdict, f"{why}; {setting}")
    else:
        second = Claim(text2, paper2, "n/a", NOT_COMPARABLE,
                       spot.get("reason", "the complete graph needs 2 seeds"))  # fmt: skip
    return [first, second]


def summarize(folder: Path):
    """The report section: graph2nn's claims with this run's numbers and verdicts, per model."""
    import pandas as pd

    from hiddenstruct.experiments.report_sections import NOT_COMPARABLE, Claim, Summary

    try:
        spots = json.loads((folder / "sweet_spot.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        why = "no readable sweet_spot.json in this folder"
        return Summary([Claim(t, p, "n/a", NOT_COMPARABLE, why) for t, p in CLAIMS], None, [why])
    path = folder / "correlations.csv"
    corr = pd.read_csv(path) if path.is_file() else None
    found, rows = [], []
    for model, spot in spots.items():
        if not isinstance(spot, dict) or "graphs" not in spot or "alpha" not in spot:
            continue
        found += claims(spot)
        entry = {
            "model": model,
            "graphs": spot.get("graphs"),
            "complete error %": f"{_fmt(spot.get('complete_error_mean'))} ± {_fmt(spot.get('complete_error_std'))}",
            "best error %": f"{_fmt(spot.get('best_error_mean'))} ± {_fmt(spot.get('best_error_std'))}",
            "best (C, L)": f"({_fmt(spot.get('best_C'))}, {_fmt(spot.get('best_L'))})",
        }
        if corr is not None:
            for name in ("C", "L"):
                hit = corr[(corr["model"] == model) & (corr["property"] == name)]
                entry[f"r(error, {name}) (n)"] = (
                    f"{_fmt(hit['r'].iloc[0])} ({int(hit['n'].iloc[0])})" if len(hit) else "n/a"
                )
        rows.append(entry)
    notes = [
        "graph2nn's best is their third-lowest mean (their MLP's lowest had high variance); ours is "
        "the lowest; their std has ddof 0, ours ddof 1",
    ]
    return Summary(found, pd.DataFrame(rows) if rows else None, notes)
