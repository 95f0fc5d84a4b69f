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

from hiddenstruct.experiments.figures import (
    METHOD_COLORS,
    METHOD_LABELS,
    MODE_COLORS,
    MODE_LABELS,
    chance_line,
    legend_below,
    mean_band,
    new_figure,
    ordered_modes,
    percent_axis,
    save,
    spread_text,
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
    chance: float = 0.1,
) -> dict[str, str]:
    """One Figure 2a per (architecture, schedule): methods as mean lines ± std over repeats,
    without / with retraining side by side on a shared y-axis, a chance line (``chance``:
    10 balanced classes by default); returns name → PNG path.

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
            fig, axes = new_figure(
                max(8.4, 5.2 * len(panels) + 0.6), 4.8, 1, len(panels), sharey=True
            )
            methods = [m for m in METHOD_LABELS if m in set(part["method"])]
            for ax, (retrain, title) in zip(axes[0], panels, strict=True):
                for index, method in enumerate(methods):
                    rows = part[(part["method"] == method) & (part["retrain"] == retrain)]
                    if len(rows):
                        mean_band(
                            ax, rows, "removed", "acc", METHOD_LABELS[method],
                            METHOD_COLORS[method], index,
                        )  # fmt: skip
                _accuracy_panel(ax, title, "weights removed", chance, first=ax is axes[0][0])
            axes[0][0].set_ylabel("test accuracy")
            legend_below(fig, axes[0][0])
            name = (architecture_names or {}).get(str(arch), str(arch))
            fig.suptitle(
                f"Figure 2a · {dataset} · MLP {name} · {schedule.replace('_', '-')} pruning "
                f"({spread_text(part['repeat'].nunique())})"
            )
            stem = f"figure2a_{arch}_{schedule}"
            written[stem] = str(save(fig, Path(out_dir) / f"{stem}.png")[0])
    return written


def _accuracy_panel(ax, title: str, xlabel: str, chance: float, first: bool) -> None:
    """Title, x label, percent axes and the chance line (labelled in the first panel only)."""
    chance_line(ax, chance, label=first, percent=True)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    percent_axis(ax)


def _with_base(points: pd.DataFrame) -> pd.DataFrame:
    """Prepend p = 0 at the base accuracy for every (mode, repeat)."""
    base = points.drop_duplicates(["mode", "repeat"]).assign(p=0.0)
    base = base.assign(
        accuracy_pruned=base["base_accuracy"], accuracy_retrained=base["base_accuracy"]
    )
    return pd.concat([base, points], ignore_index=True)


def recurrent_scope_figures(
    points: pd.DataFrame,
    out_dir: str | Path,
    description: str = "Reber grammar",
    chance: float = 0.5,
) -> dict[str, str]:
    """Figures 2b (both), 5a (i2h), 5b (h2h): accuracy vs. p per mode, right after pruning
    and after one retraining epoch side by side (shared y); a chance line (the balanced
    Reber test sets: 50 %)."""
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
            fig, axes = new_figure(
                max(8.4, 5.0 * len(panels) + 0.6), 4.6, 1, len(panels), sharey=True
            )
            for ax, (column, title) in zip(axes[0], panels, strict=True):
                for index, mode in enumerate(ordered_modes(part["mode"])):
                    rows = part[part["mode"] == mode].dropna(subset=[column])
                    mean_band(
                        ax, rows, "pct", column, MODE_LABELS.get(mode, mode),
                        MODE_COLORS.get(mode), index,
                    )  # fmt: skip
                _accuracy_panel(ax, title, "weights pruned p", chance, first=ax is axes[0][0])
            axes[0][0].set_ylabel("test accuracy")
            legend_below(fig, axes[0][0])
            fig.suptitle(
                f"{label} · {description} · {what} ({spread_text(part['repeat'].nunique())})"
            )
            written[stem] = str(save(fig, Path(out_dir) / f"{stem}.png")[0])
    return written
