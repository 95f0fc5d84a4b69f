"""Figure 7 (Watts–Strogatz vs Barabási–Albert per recurrent mode) and Table 1 as a heatmap.

Input tables: the priors meta-dataset (one row per trained graph: ``mode``, ``family``,
``test_acc``) and the correlation table (index = property, one column per mode), as written
to ``meta_dataset.csv`` / ``table1_correlations.csv``.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

from hiddenstruct.experiments.figures import (
    FAMILY_COLORS,
    FAMILY_LABELS,
    MODE_LABELS,
    finite,
    new_figure,
    ordered_modes,
    save,
    styled,
)

# Table 1 of the paper (Pearson r of test accuracy with each graph property), for comparison.
PAPER_TABLE1 = pd.DataFrame(
    {
        "RNN_TANH": [0.25, 0.40, 0.38, 0.35, -0.23, 0.29, -0.27, -0.22, -0.28, -0.46, -0.49, -0.34],
        "RNN_RELU": [0.30, 0.44, 0.43, 0.47, -0.27, 0.15, -0.25, -0.24, -0.26, -0.39, -0.41, -0.30],
        "LSTM": [0.28, 0.44, 0.42, 0.57, -0.32, 0.29, -0.36, -0.30, -0.39, -0.51, -0.56, -0.44],
        "GRU": [0.34, 0.49, 0.49, 0.74, -0.20, 0.34, -0.23, -0.21, -0.58, -0.67, -0.52, -0.26],
    },
    index=pd.Index(
        [
            "layers",
            "nodes",
            "edges",
            "source_nodes",
            "diameter",
            "density",
            "average_shortest_path_length",
            "eccentricity_var",
            "degree_var",
            "closeness_var",
            "nodes_betweenness_var",
            "edge_betweenness_var",
        ],
        name="property",
    ),
)
FIGURE7_PANELS = {"RNN_TANH": "7a", "RNN_RELU": "7b", "LSTM": "7c", "GRU": "7d"}  # the paper's


def figure7(meta: pd.DataFrame, path: str | Path, chance: float = 0.5) -> Path:
    """Test accuracy per graph family (box + jittered points), one panel per mode (7a–7d),
    a dashed chance line and a y-axis from 0.4 to 1 (lower only if a point lies below)."""
    modes = ordered_modes(meta["mode"])
    rng = np.random.default_rng(0)
    low = min(0.4, math.floor(10 * float(np.nanmin(meta["test_acc"]))) / 10)
    with styled():
        width = max(8.4, 3.0 * len(modes) + 0.4)
        fig, axes = new_figure(width, 3.9, 1, len(modes), sharey=True)
        for ax, mode in zip(axes[0], modes, strict=True):
            part = meta[meta["mode"] == mode]
            families = [f for f in FAMILY_LABELS if f in set(part["family"])]
            families += sorted(set(part["family"]) - set(families))
            values = [finite(part.loc[part["family"] == f, "test_acc"]) for f in families]
            ax.boxplot(values, widths=0.5, showfliers=False, medianprops={"color": "black"})
            for k, (family, v) in enumerate(zip(families, values, strict=True), start=1):
                jitter = rng.uniform(-0.13, 0.13, len(v))
                ax.scatter(
                    k + jitter, v, s=12, alpha=0.6, color=FAMILY_COLORS.get(family), zorder=3
                )
            ax.axhline(chance, color="#555", ls=":", lw=1)
            labels = [
                f"{FAMILY_LABELS.get(f, f)}\n(n={len(v)})"
                for f, v in zip(families, values, strict=True)
            ]
            ax.set_xticks(range(1, len(families) + 1), labels)
            panel = FIGURE7_PANELS.get(mode)
            label = MODE_LABELS.get(mode, mode)
            ax.set_title(f"({panel}) {label}" if panel else label)
            ax.set_ylim(low, 1.0)
        axes[0][0].set_ylabel("test accuracy")
        axes[0][0].text(0.55, chance + 0.01, "chance", fontsize=8, color="#555")
        fig.suptitle("Figure 7 · random structural priors on the Reber grammar: WS vs BA graphs")
        return save(fig, path)[0]


def _annotated(ax, table: pd.DataFrame, title: str, counts: dict[str, int] | None = None):
    data = table.to_numpy(dtype=float)
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="#dddddd")
    image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(
        range(table.shape[1]),
        [
            MODE_LABELS.get(c, c) + (f" (n={counts[c]})" if counts and c in counts else "")
            for c in table.columns
        ],
        rotation=30,
        ha="left",
    )
    ax.set_yticks(range(table.shape[0]), table.index)
    ax.tick_params(axis="x", labeltop=True, labelbottom=False)
    ax.grid(False)
    for (r, c), value in np.ndenumerate(data):
        text = "n/a" if math.isnan(value) else f"{value:.2f}"
        dark = not math.isnan(value) and abs(value) > 0.55
        ax.text(
            c, r, text, ha="center", va="center", fontsize=8.5, color="white" if dark else "black"
        )
    ax.set_title(title)
    return image


def table1_heatmap(
    table: pd.DataFrame,
    path: str | Path,
    with_paper: bool = True,
    counts: dict[str, int] | None = None,
) -> Path:
    """Table 1 as an annotated heatmap (Pearson r, −1 … 1; n/a where undefined), with the
    paper's values beside it for the properties both have; ``counts`` (mode → graphs the r
    are computed from) labels each column with its n."""
    ours = table.copy()
    if "property" in ours.columns:
        ours = ours.set_index("property")
    ours = ours.select_dtypes("number")  # the per-mode r columns; not the notes (why r is NaN)
    ours = ours[ordered_modes(ours.columns)]
    panels = [(ours, "this run", counts)]
    if with_paper:
        shared = [p for p in ours.index if p in PAPER_TABLE1.index]
        if shared:
            panels.append(
                (
                    PAPER_TABLE1.loc[shared, [c for c in PAPER_TABLE1 if c in ours]],
                    "paper (n = 100 + 100 graphs per mode)",
                    None,
                )
            )
    with styled():
        height = 1.2 + 0.32 * len(ours)
        fig, axes = new_figure(max(8.4, 4.2 * len(panels) + 2.6), height + 0.5, 1, len(panels))
        for ax, (frame, title, n) in zip(axes[0], panels, strict=True):
            image = _annotated(ax, frame, title, n)
        fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="Pearson r with test accuracy")
        fig.suptitle("Table 1 · correlation of graph properties with test accuracy")
        return save(fig, path)[0]
