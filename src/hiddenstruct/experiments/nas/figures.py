"""Figure 8b (structural features vs. maximum validation accuracy) and the NAS best accuracy
over search time, with the speed-up from performance prediction in the caption.

Input tables: ``feature_correlations.csv`` (``feature``, ``pearson_r``),
``feature_importances.csv`` (``feature``, ``importance``) and ``generations.csv``
(``search``, ``elapsed``, ``best_measured``) of the nas experiment.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from hiddenstruct.experiments.figures import (
    caption,
    chance_line,
    legend_below,
    new_figure,
    save,
    series_style,
    styled,
)

SEARCH_LABELS = {
    "prediction": "genetic,\nwith performance prediction",
    "no_prediction": "genetic,\nevery candidate trained",
    "random": "random search",
}
SEARCH_COLORS = {"prediction": "#1f77b4", "no_prediction": "#ff7f0e", "random": "#7f7f7f"}
PAPER_SPEEDUP = 1.69  # cited by the paper from Wendlinger et al. [42], not measured by it


def top_features(
    correlations: pd.DataFrame, importances: pd.DataFrame | None, k: int
) -> pd.DataFrame:
    """The ``k`` most important features (by importance, else by |r|) with their r."""
    frame = correlations.dropna(subset=["pearson_r"])
    if importances is not None and len(importances):
        frame = frame.merge(importances[["feature", "importance"]], on="feature", how="inner")
        frame = frame.sort_values("importance", ascending=False)
    else:
        frame = frame.assign(importance=math.nan)
        frame = frame.reindex(frame["pearson_r"].abs().sort_values(ascending=False).index)
    return frame.head(k).reset_index(drop=True)


def figure8b(
    correlations: pd.DataFrame,
    path: str | Path,
    importances: pd.DataFrame | None = None,
    k: int = 15,
    measured: int | None = None,
    excluded: int = 0,
) -> Path:
    """Horizontal bars of Pearson r for the top-``k`` features, most important on top; the
    title gives n (``measured`` candidates) and how many were ``excluded`` (at chance)."""
    top = top_features(correlations, importances, k)
    with styled():
        fig, axes = new_figure(8.4, 1.4 + 0.34 * max(len(top), 1))
        ax = axes[0][0]
        colors = ["#2a9d8f" if r >= 0 else "#e76f51" for r in top["pearson_r"]]
        ax.barh(range(len(top)), top["pearson_r"], color=colors)
        ax.set_yticks(range(len(top)), top["feature"])
        ax.invert_yaxis()
        ax.axvline(0, color="#333", lw=0.8)
        ax.set_xlim(-1, 1)
        ax.set_xlabel("Pearson r with maximum validation accuracy")
        for i, (r, imp) in enumerate(zip(top["pearson_r"], top["importance"], strict=True)):
            note = f"{r:+.2f}" + ("" if math.isnan(imp) else f"  (imp. {imp:.3f})")
            ax.text(
                r + (0.02 if r >= 0 else -0.02),
                i,
                note,
                va="center",
                ha="left" if r >= 0 else "right",
                fontsize=8,
            )
        ranked = "by RF importance" if top["importance"].notna().any() else "by |r|"
        n = f"\nn = {measured} measured candidates" if measured is not None else ""
        n += f" above chance ({excluded} at chance left out)" if excluded else ""
        ax.set_title(
            f"Figure 8b · structural features vs. accuracy\n"
            f"top {len(top)} of {len(correlations)} features {ranked}{n}",
            fontsize=10,
        )
        return save(fig, path)[0]


def time_to_reach(generations: pd.DataFrame, search: str, target: float) -> float:
    """Search seconds at which ``search`` first measured an accuracy ≥ ``target`` (NaN:
    never reached)."""
    part = generations[generations["search"] == search].sort_values("elapsed")
    hits = part[part["best_measured"] >= target - 1e-12]
    return float(hits["elapsed"].iloc[0]) if len(hits) else math.nan


def reach_summary(generations: pd.DataFrame) -> dict[str, float]:
    """The unaccelerated search's best accuracy (the target), when it reached it, when the
    search with prediction reached it (NaN: not reached) and the speed-up (their ratio)."""
    if not {"prediction", "no_prediction"} <= set(generations["search"]):
        return {}
    target = float(generations.loc[generations["search"] == "no_prediction", "best_measured"].max())
    slow = time_to_reach(generations, "no_prediction", target)
    fast = time_to_reach(generations, "prediction", target)
    speedup = slow / fast if math.isfinite(fast) and fast > 0 else math.nan
    return {"target": target, "seconds_without": slow, "seconds_with": fast, "speedup": speedup}


def reach_text(reach: dict[str, float]) -> str:
    """One line: when the search with prediction reached the unaccelerated best accuracy."""
    if not reach:
        return "time to reach: n/a (needs both genetic searches)"
    target, slow, fast = reach["target"], reach["seconds_without"], reach["seconds_with"]
    head = f"time to reach the unaccelerated search's best accuracy {100 * target:.1f} %"
    if not math.isfinite(fast):
        return f"{head}: without prediction {slow:.1f} s; with prediction not reached"
    return (
        f"{head}: without prediction {slow:.1f} s, with prediction {fast:.1f} s "
        f"(speed-up {reach['speedup']:.2f}×)"
    )


def best_over_time(
    generations: pd.DataFrame, path: str | Path, dataset: str, *, chance: float = 0.1
) -> Path:
    """Best measured validation accuracy vs. search seconds per search (step lines, one
    marker and line style each), a chance line; the caption gives the time the search with
    prediction took to reach the unaccelerated search's best accuracy, next to the 1.69×
    the paper cites."""
    with styled():
        fig, axes = new_figure(10.0, 5.0)
        ax = axes[0][0]
        searches = list(dict.fromkeys(generations["search"]))
        for index, search in enumerate(searches):
            part = generations[generations["search"] == search].sort_values("elapsed")
            ax.step(
                part["elapsed"],
                100 * part["best_measured"],
                where="post",
                label=SEARCH_LABELS.get(search, search),
                color=SEARCH_COLORS.get(search),
                **series_style(index),
            )
        chance_line(ax, chance, percent=True)
        ax.set_xlabel("search time (s, training + search overhead)")
        ax.set_ylabel("best validation accuracy (%)")
        legend_below(fig, ax, right=True)
        ax.set_title(f"NAS on {dataset}: best accuracy over time")
        caption(
            fig,
            f"{reach_text(reach_summary(generations))}. The paper cites {PAPER_SPEEDUP}× for "
            "prediction-accelerated NAS (Wendlinger et al. [42]); it reports no speed-up of its own.",
        )
        return save(fig, path)[0]
