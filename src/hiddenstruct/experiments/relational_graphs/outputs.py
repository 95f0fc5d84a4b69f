"""Tables of the relational-graphs experiment, and :func:`write_outputs` (tables + figures).

Per model: the mean error per graph, graph2nn's sweet spot — the best graph (lowest mean
error, complete graph excluded) against every other by a two-sample t-test (SciPy's
``ttest_ind``, equal variances); a graph is *significantly worse* when its mean is higher and
the one-sided p (half the two-sided) is below 0.05; the sweet spot is the rest, and its C and L
ranges — Pearson correlations of the mean error with C, L and the structural properties (paper Table 1) of the
relational graph (``n`` graphs shown), and the cross-validated R² of our ``predict`` regressors
(error from the properties). With one seed per graph the t-test is undefined: NaN, with the
reason. graph2nn pick the *third*-lowest mean as "best" for their MLP (their notebook: "best
model in MLP has high variance"); we take the lowest and say so. Figures: :mod:`.figures`;
the report section: :mod:`.summary`.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from hiddenstruct.experiments.relational_graphs.config import EXPERIMENT, GRAPH2NN_MLP
from hiddenstruct.experiments.relational_graphs.figures import write_figures
from hiddenstruct.outputs import write_csv, write_json
from hiddenstruct.stats import pearson, summarize
from hiddenstruct.trials.outcome import require_finished
from hiddenstruct.trials.store import TrialRecord

ALPHA = 0.05
SETTING_KEYS = ("dataset", "nodes", "width", "layers", "epochs", "train_size", "eval_split")
RNN_SETTING_KEYS = ("nodes", "hidden", "rnn_layers", "reber_epochs", "reber_n")


def result_rows(finished: list[TrialRecord]) -> list[dict[str, Any]]:
    """One flat row per finished trial (``require_finished``'s records)."""
    return [_row(record.config, record.result) for record in finished]


def _row(c: dict[str, Any], r: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": c["model"], "graph": c["graph"], "k": c["k"], "p": c["p"],
        "graph_seed": c["graph_seed"], "seed": c["seed"], "nodes": c["nodes"],
        "error": r["error"], "accuracy": r["accuracy"], "width": r["width"],
        "macs": r["macs"], "baseline_macs": r["baseline_macs"], "C": r["C"], "L": r["L"],
        "edges": r["edges"], "seconds": r["seconds"], **r["properties"],
    }  # fmt: skip


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
        spread = summarize(errors)
        first = members[0]
        entry = {
            k: v for k, v in first.items() if k not in ("seed", "error", "accuracy", "seconds")
        }
        entry.update(
            error_mean=spread.mean, error_std=spread.std, n_seeds=spread.n,
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


def write_outputs(records: list[TrialRecord], out_dir: Path, config=None) -> dict[str, str]:
    from hiddenstruct.graphs.properties import PROPERTY_NAMES
    from hiddenstruct.predict import write_table

    rows = result_rows(require_finished(EXPERIMENT, records))
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
