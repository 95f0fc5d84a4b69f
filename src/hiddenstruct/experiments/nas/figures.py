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

from hiddenstruct.experiments.figure_style import caption, new_figure, save, styled

SEARCH_LABELS = {
    "prediction": "genetic, with performance prediction",
    "no_prediction": "genetic, every candidate trained",
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
) -> Path:
    """Horizontal bars of Pearson r for the top-``k`` features, most important on top."""
    top = top_features(correlations, importances, k)
    with styled():
        fig, axes = new_figure(7.6, 1.4 + 0.34 * max(len(top), 1))
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
        n = f" · {measured} measured" if measured is not None else ""
        ax.set_title(
            f"Figure 8b · structural features vs. accuracy\n"
            f"top {len(top)} of {len(correlations)} features {ranked}{n}"
        )
        return save(fig, path)[0]


def best_over_time(
    generations: pd.DataFrame, path: str | Path, dataset: str, speedup: float | None = None
) -> Path:
    """Best measured validation accuracy vs. search seconds per search (step lines); the
    caption gives this run's speed-up from prediction next to the 1.69× the paper cites."""
    with styled():
        fig, axes = new_figure(7.2, 4.4)
        ax = axes[0][0]
        for search, part in generations.groupby("search", sort=False):
            part = part.sort_values("elapsed")
            ax.step(
                part["elapsed"],
                100 * part["best_measured"],
                where="post",
                marker="o",
                ms=3,
                label=SEARCH_LABELS.get(search, search),
                color=SEARCH_COLORS.get(search),
            )
        ax.set_xlabel("search time (s, training + search overhead)")
        ax.set_ylabel("best validation accuracy (%)")
        ax.legend(loc="best")
        ax.set_title(f"NAS on {dataset}: best accuracy over time")
        ours = (
            f"{speedup:.2f}×"
            if speedup is not None and math.isfinite(speedup)
            else "n/a (needs both genetic searches)"
        )
        caption(
            fig,
            f"Speed-up from performance prediction in this run (search seconds without / with): "
            f"{ours}. The paper cites {PAPER_SPEEDUP}× for prediction-accelerated NAS "
            "(Wendlinger et al. [42]); it reports no speed-up of its own.",
        )
        return save(fig, path)[0]
