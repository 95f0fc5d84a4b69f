"""The report section of sparse-routes (hiddenstruct's extension, docs/sparse-training.md): the paper's claims next to this run's numbers."""

from __future__ import annotations

import math
from pathlib import Path

from hiddenstruct.experiments.report_sections import (
    SectionSpec,
    Summary,
    finite,
    percent,
    read_csv,
)
from hiddenstruct.experiments.sparse_routes.outputs import MODEL_CHANCE
from hiddenstruct.stats import CHANCE_MARGIN


def summarize_sparse_routes(folder: Path) -> Summary:
    """Accuracy per route (and density) per model, with the trials at chance flagged; the
    paper has no such experiment, so there are no claims to check."""
    import pandas as pd

    table = read_csv(folder, "accuracy.csv")
    notes = [
        "The paper has no routes-to-sparsity experiment (this is hiddenstruct's extension, "
        "docs/sparse-training.md): no claims to check. Models at chance are left out of "
        "correlations.csv (its n column)."
    ]
    if table is None or not {"model", "route", "density", "accuracy_mean"} <= set(table):
        return Summary([], None, [*notes, "no accuracy.csv in this folder"])
    rows = []
    for _, r in table.iterrows():
        chance = MODEL_CHANCE.get(r["model"], math.nan)
        learned = finite(r["accuracy_mean"]) and r["accuracy_mean"] > chance + CHANCE_MARGIN
        std = r.get("accuracy_std", math.nan)
        rows.append(
            {
                "model": r["model"],
                "route": r["route"],
                "density": f"{r['density']:g}",
                "test accuracy": percent(r["accuracy_mean"])
                + (f" ± {100 * std:.1f}" if finite(std) else ""),
                "n": r.get("n", "n/a"),
                "chance": percent(chance),
                "learns": "yes" if learned else "no (at chance)",
            }
        )
    low = sum(r["learns"] != "yes" for r in rows)
    if low:
        notes.append(f"{low} of {len(rows)} (model, route, density) groups do not beat chance")
    return Summary([], pd.DataFrame(rows), notes)


SECTION = SectionSpec(
    "sparse-routes", "Routes to sparse structure (hiddenstruct's extension)",
    ("accuracy_*", "trajectory_*"), ("accuracy.csv", "correlations.csv", "properties.csv",
                                     "results.csv"), summarize_sparse_routes,
)  # fmt: skip
