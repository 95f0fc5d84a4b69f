"""Tables and figures of the sparse-routes experiment (:mod:`.sparse_routes`), from its records.

A trial whose test accuracy does not beat its model's chance (:data:`MODEL_CHANCE`) by
:data:`CHANCE_MARGIN` is flagged (``above_chance`` False) and left out of the correlations.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from hiddenstruct.experiments.reber_inputs import write_overlap
from hiddenstruct.experiments.sparse_routes import topology as topo
from hiddenstruct.experiments.sparse_routes.config import (
    EXPERIMENT,
    TRAJECTORY_PROPERTY,
    SparseRoutesConfig,
)
from hiddenstruct.graphs._property_common import PROPERTY_NAMES
from hiddenstruct.outputs import write_csv
from hiddenstruct.stats import CHANCE_MARGIN, summarize
from hiddenstruct.trials.outcome import require_finished
from hiddenstruct.trials.store import TrialRecord

#: Chance accuracy per model: LeNet on 10 balanced digit classes, the GRU on the balanced
#: Reber test sets (half valid, half invalid strings).
MODEL_CHANCE = {"lenet": 0.1, "reber_gru": 0.5}


def above_chance(model: str, accuracy: float) -> bool:
    """Whether ``accuracy`` beats the chance of ``model`` by :data:`CHANCE_MARGIN`."""
    chance = MODEL_CHANCE.get(model, 0.0)
    return math.isfinite(accuracy) and accuracy > chance + CHANCE_MARGIN


def result_rows(finished: list[TrialRecord]) -> list[dict[str, Any]]:
    """One flat row per finished trial (``require_finished``'s records): settings, accuracy,
    cost, final properties."""
    return [_row(record.config, record.result) for record in finished]


def _row(c: dict[str, Any], r: dict[str, Any]) -> dict[str, Any]:
    final = {k: v for k, v in r["final"].items() if k not in ("step", "update", "density")}
    return {
        "model": c["model"], "route": c["route"], "density": c["density"],
        "repeat": c["repeat"], "test_accuracy": r["test_accuracy"],
        "above_chance": above_chance(c["model"], r["test_accuracy"]), "seconds": r["seconds"],
        "cost": r["cost"], "steps": r["steps"], "epochs": r["epochs"], **final,
    }  # fmt: skip


def _grouped(rows, keys) -> dict[tuple, list[dict[str, Any]]]:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[k] for k in keys)].append(row)
    return groups


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample std (std NaN for one value: the spread of one run is undefined)."""
    spread = summarize(values)
    return spread.mean, spread.std


def accuracy_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Test accuracy mean ± std (n), trials at chance and mean cost per (model, route, density)."""
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
                "at_chance": sum(not m["above_chance"] for m in members),
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
    """Pearson r of each property with test accuracy across all routes and densities, per model,
    over the trials that beat chance (``n``; ``at_chance`` were left out).

    ``r`` is NaN when the property (or the accuracy) is constant over the model's trials or
    fewer than 3 trials have it; ``note`` says which.
    """
    from hiddenstruct.predict.correlation import pearson

    table = []
    for (model,), members in sorted(_grouped(rows, ("model",)).items()):
        learned = [m for m in members if m.get("above_chance", True)]
        skipped = len(members) - len(learned)
        for name in names:
            pairs = [
                (m[name], m["test_accuracy"])
                for m in learned
                if name in m and math.isfinite(m[name]) and math.isfinite(m["test_accuracy"])
            ]
            r, note = math.nan, ""
            if len(pairs) < 3:
                note = f"only {len(pairs)} trials above chance have {name}"
            else:
                x, y = np.array(pairs).T
                r = pearson(x, y)
                note = "constant over the trials" if math.isnan(r) else ""
            table.append(
                {"model": model, "property": name, "r": r, "n": len(pairs),
                 "at_chance": skipped, "note": note}
            )  # fmt: skip
    return table


def write_figures(records, rows, out_dir: Path, prop: str) -> dict[str, str]:
    """accuracy vs density per route (a chance line; a log x-axis only when the densities
    span a decade), and ``prop`` over training per route (lowest density)."""
    from hiddenstruct.experiments.figures import (
        chance_line,
        legend_below,
        new_figure,
        save_figure,
        series_style,
        spans_decades,
        spread_text,
        styled,
    )

    written = {}
    for model in sorted({r["model"] for r in rows}):
        mine = [r for r in rows if r["model"] == model]
        repeats = len({r["repeat"] for r in mine})
        with styled():
            fig, axes = new_figure(8.4, 5.0)
            ax = axes[0][0]
            routes = sorted(_grouped(mine, ("route",)).items())
            densities = sorted({r["density"] for r in mine})
            log = spans_decades(densities)
            for index, ((route,), members) in enumerate(routes):
                points = sorted(_grouped(members, ("density",)).items())
                stats = [_mean_std([m["test_accuracy"] for m in ms]) for _, ms in points]
                ys = np.array([s[0] for s in stats])
                es = np.nan_to_num(np.array([s[1] for s in stats]))
                style = series_style(index)
                if len(densities) == 1:  # one density: one column per route, no line
                    xs, style["ls"] = [index], "none"
                else:  # dodge the routes a little so equal accuracies do not hide each other
                    shift = 0.012 * (index - (len(routes) - 1) / 2)
                    span = densities[-1] - densities[0]
                    xs = [
                        d * 10**shift if log else d + shift * span
                        for (d,), _ in points
                    ]  # fmt: skip
                errors = es if repeats > 1 else None
                ax.errorbar(xs, ys, yerr=errors, capsize=2, label=route, **style)
            if len(densities) == 1:
                ax.set_xticks(range(len(routes)), [route for (route,), _ in routes])
                ax.set_xlim(-0.6, len(routes) - 0.4)
                ax.set_xlabel(f"route (density {densities[0]:g}: fraction of weights kept)")
            else:
                if log:
                    ax.set_xscale("log")
                ax.set_xlabel("density (fraction of weights kept)")
            chance_line(ax, MODEL_CHANCE.get(model, math.nan))
            ax.set_ylim(0, 1.02)
            ax.set_ylabel("test accuracy")
            ax.set_title(f"{model}: test accuracy vs density per route ({spread_text(repeats)})")
            if len(densities) > 1:  # one density: the routes are the x ticks
                legend_below(fig, ax)
            path = out_dir / f"accuracy_{model}.png"
            written[f"accuracy_{model}"] = str(save_figure(fig, path)[0])

            fig, axes = new_figure(8.4, 4.6)
            ax = axes[0][0]
            done = [r for r in records if r.status == "done" and r.config["model"] == model]
            lowest = min(r.config["density"] for r in done)
            chosen = [
                r for r in sorted(done, key=lambda r: (r.config["route"], r.config["repeat"]))
                if r.config["density"] == lowest and r.config["repeat"] == 0
            ]  # fmt: skip
            for index, record in enumerate(chosen):
                traj = [p for p in record.result["trajectory"] if prop in p]
                if traj:
                    ax.plot(
                        [p["step"] for p in traj], [p[prop] for p in traj],
                        label=record.config["route"], **series_style(index),
                    )  # fmt: skip
            ax.set_xlabel("optimizer step")
            ax.set_ylabel(prop.replace("_", " "))
            ax.set_title(
                f"{model}: {prop.replace('_', ' ')} during training (density {lowest}, repeat 0)"
            )
            legend_below(fig, ax)
            path = out_dir / f"trajectory_{model}.png"
            written[f"trajectory_{model}"] = str(save_figure(fig, path)[0])
    return written


def write_outputs(
    records: list[TrialRecord], out_dir: Path, config: SparseRoutesConfig | None = None
) -> dict[str, str]:
    """results, accuracy, properties and correlation tables plus the figures."""
    # here, not at the top: every command line imports this module, the models load torch
    from hiddenstruct.experiments.sparse_routes.trial import build_model

    finished = require_finished(EXPERIMENT, records)
    rows = result_rows(finished)
    names = [n for n in PROPERTY_NAMES if any(n in r for r in rows)]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {
        "results": str(write_csv(out_dir / "results.csv", rows)),
        "accuracy": str(write_csv(out_dir / "accuracy.csv", accuracy_table(rows))),
        "properties": str(write_csv(out_dir / "properties.csv", property_table(rows, names))),
        "correlations": str(
            write_csv(out_dir / "correlations.csv", correlation_table(rows, names))
        ),
    }
    pairs = topo.topology_rows(records, build_model)
    written["topology"] = str(write_csv(out_dir / "topology.csv", pairs))
    prop = config.trajectory_property if config is not None else TRAJECTORY_PROPERTY
    written.update(write_figures(records, rows, out_dir, prop))
    written.update(topo.write_topology_figures(pairs, out_dir))
    reber = [r.result for r in finished if r.config["model"] == "reber_gru"]
    if reber:
        written.update(write_overlap(reber, out_dir))
    written["trials"] = f"{len(rows)}/{len(records)} done"
    return written
