"""The outputs of priors-rnn: the meta-dataset, Figure 7, Table 1 (correlations, with the
models at chance counted and left out), the R² table, the importances and the family
summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hiddenstruct import stats
from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.priors_rnn.config import PriorsConfig
from hiddenstruct.experiments.reber_inputs import write_overlap
from hiddenstruct.graphs.properties import PROPERTY_NAMES

#: Chance on the balanced Reber test sets (half valid, half invalid strings).
PRIORS_CHANCE = 0.5


def write_outputs(
    rows: list[dict[str, Any]],
    out_dir: Path,
    config: PriorsConfig | None = None,
    seed: int = 7,
    planned: int | None = None,
) -> dict[str, str]:
    """Meta-dataset CSV, Figure 7, Table 1 (correlations), R² table, importances, family
    summary and (``planned`` trials given) the trial counts."""
    # here, not at the top: every command line imports this module, and these load pandas
    import pandas as pd

    from hiddenstruct.experiments.priors_rnn.figures import figure7, table1_heatmap
    from hiddenstruct.predict import (
        correlations,
        evaluate_regressors,
        feature_importances,
        write_table,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    if not rows:
        raise UsageError("no finished trials to summarise; run the sweep first")
    df = pd.DataFrame(rows)
    first = ["family", "mode", "index", "n", "graph_seed", *PROPERTY_NAMES, "test_acc", "test_loss"]
    df = df[[c for c in first if c in df.columns] + [c for c in df.columns if c not in first]]
    # a model at chance says nothing about its graph: flagged, and left out of Table 1, the
    # R² and the importances (the counts per mode go to table1_counts.csv and the heatmap)
    df["above_chance"] = df["test_acc"] > PRIORS_CHANCE + stats.CHANCE_MARGIN
    written = {"meta-dataset": str(write_table(df, out_dir / "meta_dataset.csv"))}
    written["figure 7"] = str(figure7(df, out_dir / "figure7.png"))
    counts = chance_counts(df)
    written["table 1 counts"] = str(write_table(counts, out_dir / "table1_counts.csv"))
    learned = df[df["above_chance"]].drop(columns="above_chance")
    table = correlations(df.drop(columns="above_chance"), "test_acc", group_by="mode", notes=True)
    if len(learned):  # notes: why r is NaN
        found = correlations(learned, "test_acc", group_by="mode", notes=True)
        table = found.reindex(index=table.index, columns=table.columns)
    for mode in [c for c in table.columns if c != "notes"]:
        if mode not in set(learned["mode"]):  # undefined: every model of the mode at chance
            table[mode] = float("nan")
            reason = f"{mode}: no model beats chance"
            table["notes"] = [
                f"{n}; {reason}" if isinstance(n, str) and n else reason for n in table["notes"]
            ]
    written["table 1"] = str(write_table(table.reset_index(), out_dir / "table1_correlations.csv"))

    n = dict(zip(counts["mode"], counts["used"], strict=True))
    written["table 1 heatmap"] = str(
        table1_heatmap(table, out_dir / "table1_correlations.png", counts=n)
    )
    df = learned
    smallest = int(df.groupby("mode").size().min()) if len(df) else 0
    if smallest >= 6:
        options = {"target": "test_acc", "group_by": "mode", "seed": seed}
        options.update(test_size=max(0.1, 2.0 / smallest), cv=_folds(smallest))
        written["R² table"] = str(
            write_table(evaluate_regressors(df, **options), out_dir / "r2.csv")
        )
        written["importances"] = str(
            write_table(feature_importances(df, **options), out_dir / "importances.csv")
        )
    else:
        written["R² table"] = (
            f"skipped: only {smallest} models above chance in a mode (need at least 6)"
        )
    summary = family_summary(pd.DataFrame(rows))  # every model, at chance or not
    written["summary"] = str(write_table(summary, out_dir / "family_summary.csv"))
    written.update(write_overlap(rows, out_dir))
    return {**written, **_trial_counts(rows, planned)}


def _trial_counts(rows: list[dict[str, Any]], planned: int | None) -> dict[str, str]:
    """Trials done of ``planned`` and the mean seconds per trial (none without ``planned``)."""
    if planned is None:
        return {}
    mean_seconds = sum(r["seconds"] for r in rows) / len(rows)
    return {
        "trials": f"{len(rows)}/{planned} done",
        "seconds per trial": f"{mean_seconds:.2f} (amortised over packs)",
    }


def chance_counts(df) -> Any:
    """Per mode: graphs trained, models at chance (excluded from Table 1, R², importances), used."""
    grouped = df.groupby("mode")["above_chance"]
    counts = grouped.agg(["size", "sum"]).reset_index()
    counts = counts.rename(columns={"size": "graphs", "sum": "used"})
    counts["used"] = counts["used"].astype(int)
    counts["at_chance"] = counts["graphs"] - counts["used"]
    counts["chance"] = PRIORS_CHANCE
    counts["margin"] = stats.CHANCE_MARGIN
    return counts[["mode", "graphs", "at_chance", "used", "chance", "margin"]]


def _folds(rows: int) -> int:
    """CV folds of at least 5 rows each (R² on 2-row folds is meaningless), at most 10; 0 = off."""
    folds = min(10, rows // 5)
    return folds if folds >= 2 else 0


def family_summary(df) -> Any:
    """Mean / median / sample std of test accuracy per mode and family, the graph count, how
    many of its models do not beat chance, notes."""
    if "above_chance" not in df:
        df = df.assign(above_chance=df["test_acc"] > PRIORS_CHANCE + stats.CHANCE_MARGIN)
    grouped = df.groupby(["mode", "family"])["test_acc"]
    summary = grouped.agg(["count", "mean", "median", "std"]).reset_index()
    low = (~df["above_chance"]).groupby([df["mode"], df["family"]]).sum()
    summary["at_chance"] = [
        int(low.loc[(m, f)]) for m, f in zip(summary["mode"], summary["family"], strict=True)
    ]
    summary["notes"] = [stats.ONE_REPEAT if n == 1 else "" for n in summary["count"]]
    return summary.rename(
        columns={
            "count": "graphs",
            "mean": "test_acc_mean",
            "median": "test_acc_median",
            "std": "test_acc_std",
        }
    )
