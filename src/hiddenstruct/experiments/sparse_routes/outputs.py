"""Tables and figures of the sparse-routes experiment (:mod:`.sparse_routes`), from its records."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from hiddenstruct.trials.store import TrialRecord


def result_rows(records: list[TrialRecord]) -> list[dict[str, Any]]:
    """One flat row per finished trial: settings, accuracy, cost, final properties."""
    rows = []
    for record in records:
        if record.status != "done":
            continue
        c, r = record.config, record.result
        rows.append(
            {
                "model": c["model"],
                "route": c["route"],
                "density": c["density"],
                "repeat": c["repeat"],
                "test_accuracy": r["test_accuracy"],
                "seconds": r["seconds"],
                "cost": r["cost"],
                "steps": r["steps"],
                "epochs": r["epochs"],
                **{k: v for k, v in r["final"].items() if k not in ("step", "update", "density")},
            }
        )
    return rows


def _grouped(rows, keys) -> dict[tuple, list[dict[str, Any]]]:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[k] for k in keys)].append(row)
    return groups


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample std (NaN with one value: the spread of one run is undefined)."""
    mean = float(np.mean(values))
    return mean, float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def accuracy_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Test accuracy mean ± std (n) and mean cost per (model, route, density)."""
    table = []
    for (model, route, density), members in sorted(
        _grouped(rows, ("model", "route", "density")).items()
    ):
        mean, std = _mean_std([m["test_accuracy"] for m in members])
        table.append(
            {
                "model": model,
                "route": route,
                "density": density,
                "accuracy_mean": mean,
                "accuracy_std": std,
                "n": len(members),
                "seconds_mean": float(np.mean([m["seconds"] for m in members])),
                "cost_mean": float(np.mean([m["cost"] for m in members])),
            }
        )
    return table


def property_table(rows: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """Mean final property values per (model, route, density), side by side."""
    table = []
    for key, members in sorted(_grouped(rows, ("model", "route", "density")).items()):
        entry = dict(zip(("model", "route", "density"), key, strict=True))
        for name in names:
            values = [m[name] for m in members if name in m and math.isfinite(m[name])]
            entry[name] = float(np.mean(values)) if values else math.nan
        table.append(entry)
    return table


def correlation_table(rows: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """Pearson r of each property with test accuracy across all routes and densities, per model.

    ``r`` is NaN when the property (or the accuracy) is constant over the model's trials or
    fewer than 3 trials have it; ``note`` says which.
    """
    from hiddenstruct.predict.correlations import pearson

    table = []
    for (model,), members in sorted(_grouped(rows, ("model",)).items()):
        for name in names:
            pairs = [
                (m[name], m["test_accuracy"])
                for m in members
                if name in m and math.isfinite(m[name]) and math.isfinite(m["test_accuracy"])
            ]
            r, note = math.nan, ""
            if len(pairs) < 3:
                note = f"only {len(pairs)} trials have {name}"
            else:
                x, y = np.array(pairs).T
                r = pearson(x, y)
                note = "constant over the trials" if math.isnan(r) else ""
            table.append({"model": model, "property": name, "r": r, "n": len(pairs), "note": note})
    return table


def write_figures(records, rows, out_dir: Path, prop: str) -> dict[str, str]:
    """accuracy vs density per route, and ``prop`` over training per route (lowest density)."""
    from hiddenstruct.experiments.figures import new_figure, save_figure

    written = {}
    for model in sorted({r["model"] for r in rows}):
        fig, ax = new_figure()
        for (route,), members in sorted(
            _grouped([r for r in rows if r["model"] == model], ("route",)).items()
        ):
            points = sorted(_grouped(members, ("density",)).items())
            xs = [d for (d,), _ in points]
            stats = [_mean_std([m["test_accuracy"] for m in ms]) for _, ms in points]
            ys = np.array([s[0] for s in stats])
            es = np.nan_to_num(np.array([s[1] for s in stats]))
            ax.errorbar(xs, ys, yerr=es, marker="o", markersize=3, capsize=2, label=route)
        ax.set_xscale("log")
        ax.set_xlabel("density (fraction of weights kept)")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{model}: accuracy vs density per route")
        ax.legend(fontsize=7)
        written[f"accuracy_{model}"] = str(save_figure(fig, out_dir / f"accuracy_{model}.png")[0])

        fig, ax = new_figure()
        done = [r for r in records if r.status == "done" and r.config["model"] == model]
        lowest = min(r.config["density"] for r in done)
        for record in sorted(done, key=lambda r: (r.config["route"], r.config["repeat"])):
            c = record.config
            if c["density"] != lowest or c["repeat"] != 0:
                continue
            traj = [p for p in record.result["trajectory"] if prop in p]
            if traj:
                ax.plot(
                    [p["step"] for p in traj], [p[prop] for p in traj], marker=".", label=c["route"]
                )
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(prop)
        ax.set_title(f"{model}, density {lowest}, repeat 0", fontsize=9)
        ax.legend(fontsize=7)
        written[f"trajectory_{model}"] = str(
            save_figure(fig, out_dir / f"trajectory_{model}.png")[0]
        )
    return written
