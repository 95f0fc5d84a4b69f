"""Figure 2a (pruning feed-forward nets) and Figures 2b / 5a / 5b (pruning recurrent nets).

Input tables:

* Figure 2a: ``curves.csv`` of prune-ffn — one row per (trial, step) with ``architecture``,
  ``method``, ``schedule``, ``retrain``, ``repeat``, ``zero_fraction``, ``accuracy``.
* Figures 2b/5a/5b: one row per (trial, p) with ``mode``, ``repeat``, ``scope``, ``p``,
  ``base_accuracy``, ``accuracy_pruned`` and ``accuracy_retrained`` (after the first
  retraining epoch; NaN when there was none).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hiddenstruct.experiments.figure_style import (
    METHOD_COLORS,
    METHOD_LABELS,
    MODE_COLORS,
    MODE_LABELS,
    mean_band,
    new_figure,
    ordered_modes,
    percent_axis,
    save,
    styled,
)

SCOPE_FIGURES = {
    "both": ("figure2b_both", "Figure 2b", "pruning i2h and h2h weights"),
    "i2h": ("figure5a_i2h", "Figure 5a", "pruning only i2h weights"),
    "h2h": ("figure5b_h2h", "Figure 5b", "pruning only h2h weights"),
}


def _panel_titles(retrain_values) -> list[tuple[bool, str]]:
    names = {False: "without retraining", True: "with retraining after each step"}
    return [(bool(v), names[bool(v)]) for v in sorted(set(retrain_values))]


def figure2a(
    curves: pd.DataFrame,
    dataset: str,
    out_dir: str | Path,
    architecture_names: dict[str, str] | None = None,
) -> dict[str, str]:
    """One Figure 2a per (architecture, schedule): methods as mean lines ± std over repeats,
    without / with retraining side by side on a shared y-axis; returns name → PNG path.

    ``architecture_names`` maps the ``architecture`` column (e.g. ``"300-100"``) to the name
    in the title (e.g. ``"784-300-100-10"``).
    """
    written = {}
    frame = curves.assign(
        removed=100 * curves["zero_fraction"].astype(float).round(4),
        acc=100 * curves["accuracy"].astype(float),
    )
    for (arch, schedule), part in frame.groupby(["architecture", "schedule"], sort=True):
        panels = _panel_titles(part["retrain"])
        with styled():
            fig, axes = new_figure(5.2 * len(panels) + 0.6, 4.3, 1, len(panels), sharey=True)
            for ax, (retrain, title) in zip(axes[0], panels, strict=True):
                for method in [m for m in METHOD_LABELS if m in set(part["method"])]:
                    rows = part[(part["method"] == method) & (part["retrain"] == retrain)]
                    if len(rows):
                        mean_band(
                            ax, rows, "removed", "acc", METHOD_LABELS[method], METHOD_COLORS[method]
                        )
                ax.set_title(title)
                ax.set_xlabel("weights removed")
                percent_axis(ax)
            axes[0][0].set_ylabel("test accuracy")
            axes[0][-1].legend(loc="lower left", frameon=True)
            name = (architecture_names or {}).get(str(arch), str(arch))
            repeats = part["repeat"].nunique()
            fig.suptitle(
                f"Figure 2a · {dataset} · MLP {name} · {schedule.replace('_', '-')} pruning "
                f"(mean ± std over {repeats} repeat{'s' if repeats != 1 else ''})"
            )
            stem = f"figure2a_{arch}_{schedule}"
            written[stem] = str(save(fig, Path(out_dir) / f"{stem}.png")[0])
    return written


def _with_base(points: pd.DataFrame) -> pd.DataFrame:
    """Prepend p = 0 at the base accuracy for every (mode, repeat)."""
    base = points.drop_duplicates(["mode", "repeat"]).assign(p=0.0)
    base = base.assign(
        accuracy_pruned=base["base_accuracy"], accuracy_retrained=base["base_accuracy"]
    )
    return pd.concat([base, points], ignore_index=True)


def recurrent_scope_figures(
    points: pd.DataFrame, out_dir: str | Path, description: str = "Reber grammar"
) -> dict[str, str]:
    """Figures 2b (both), 5a (i2h), 5b (h2h): accuracy vs. p per mode, right after pruning
    and after one retraining epoch side by side (shared y); a 50 % chance line."""
    written = {}
    for scope, (stem, label, what) in SCOPE_FIGURES.items():
        part = points[points["scope"] == scope]
        if part.empty:
            continue
        part = _with_base(part).assign(
            pct=lambda d: 100 * d["p"].astype(float),
            pruned=lambda d: 100 * d["accuracy_pruned"].astype(float),
            retrained=lambda d: 100 * d["accuracy_retrained"].astype(float),
        )
        panels = [("pruned", "right after pruning")]
        if part["retrained"].notna().any():
            panels.append(("retrained", "after 1 retraining epoch"))
        with styled():
            fig, axes = new_figure(5.0 * len(panels) + 0.6, 4.1, 1, len(panels), sharey=True)
            for ax, (column, title) in zip(axes[0], panels, strict=True):
                for mode in ordered_modes(part["mode"]):
                    rows = part[part["mode"] == mode].dropna(subset=[column])
                    mean_band(
                        ax, rows, "pct", column, MODE_LABELS.get(mode, mode), MODE_COLORS.get(mode)
                    )
                ax.axhline(50, color="#555", ls=":", lw=1, label="chance (50 %)")
                ax.set_title(title)
                ax.set_xlabel("weights pruned p")
                percent_axis(ax)
            axes[0][0].set_ylabel("test accuracy")
            axes[0][-1].legend(loc="lower left", frameon=True)
            repeats = part["repeat"].nunique()
            fig.suptitle(
                f"{label} · {description} · {what} "
                f"(mean ± std over {repeats} repeat{'s' if repeats != 1 else ''})"
            )
            written[stem] = str(save(fig, Path(out_dir) / f"{stem}.png")[0])
    return written
