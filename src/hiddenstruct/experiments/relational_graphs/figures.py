"""Figures of the relational-graphs experiment, per model: the C–L heat map of mean error
(graph2nn's figure form, their sweet spot's box beside ours), error vs C, error vs L, and the
coverage of the (C, L) plane by the graph set. Tables: :mod:`.outputs`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from hiddenstruct.experiments.relational_graphs.config import GRAPH2NN_MLP


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
