"""One figure style for every paper figure: sizes, fonts, colours, percent axes, saving.

Figures are :class:`matplotlib.figure.Figure` objects rendered by Agg (no pyplot, no global
state); the style is applied through ``matplotlib.rc_context`` only while a figure is built.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from hiddenstruct.experiments.figures import save_figure

RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",  # text stays text in the SVG
}

METHOD_LABELS = {
    "random": "random",
    "class_blinded": "magnitude, class-blinded",
    "class_uniform": "magnitude, class-uniform",
    "class_distributed": "magnitude, class-distributed",
    "obd": "Optimal Brain Damage",
}
METHOD_COLORS = {
    "random": "#7f7f7f",
    "class_blinded": "#1f77b4",
    "class_uniform": "#2ca02c",
    "class_distributed": "#9467bd",
    "obd": "#d62728",
}
MODE_LABELS = {"RNN_TANH": "RNN_Tanh", "RNN_RELU": "RNN_ReLU", "LSTM": "LSTM", "GRU": "GRU"}
MODE_COLORS = {"RNN_TANH": "#1f77b4", "RNN_RELU": "#ff7f0e", "LSTM": "#2ca02c", "GRU": "#d62728"}
FAMILY_LABELS = {"watts_strogatz": "WS", "barabasi_albert": "BA", "erdos_renyi": "ER"}
FAMILY_COLORS = {
    "watts_strogatz": "#4c72b0",
    "barabasi_albert": "#dd8452",
    "erdos_renyi": "#55a868",
}
MODES_ORDER = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")
DPI = 150


@contextmanager
def styled() -> Iterator[None]:
    """Apply the shared rc settings while a figure is being built."""
    with matplotlib.rc_context(RC):
        yield


def new_figure(width: float, height: float, rows: int = 1, cols: int = 1, **kwargs):
    """A constrained-layout Agg figure and its axes array (``squeeze=False``)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, cols, squeeze=False, **kwargs)


def percent_axis(ax: Axes, which: str = "both") -> None:
    """Label an axis whose data is already in percent (0–100) with ``%`` ticks."""
    if which in ("x", "both"):
        ax.xaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    if which in ("y", "both"):
        ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))


def mean_band(ax: Axes, frame: pd.DataFrame, x: str, y: str, label: str, color: str | None):
    """Mean of ``y`` per ``x`` as a line, ± one std over the rows (repeats) as a band."""
    grouped = frame.groupby(x)[y]
    mean, std = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    (line,) = ax.plot(mean.index, mean.values, label=label, color=color, marker="o", ms=3, lw=1.4)
    if (std > 0).any():
        ax.fill_between(
            mean.index, mean - std, mean + std, color=line.get_color(), alpha=0.18, lw=0
        )
    return line


def caption(fig: Figure, text: str) -> None:
    """A caption line under the axes (kept inside the saved image)."""
    fig.get_layout_engine().set(rect=(0, 0.07, 1, 0.93))
    fig.text(0.01, 0.01, text, fontsize=8.5, color="#444", wrap=True, va="bottom")


def save(fig: Figure, path: str | Path) -> list[Path]:
    """Write ``path`` as PNG and SVG (atomically); returns both paths."""
    return save_figure(fig, path, svg=True, dpi=DPI)


def ordered_modes(values) -> list[str]:
    """The paper's mode order (Tanh, ReLU, LSTM, GRU), then any others sorted."""
    present = set(values)
    return [m for m in MODES_ORDER if m in present] + sorted(present - set(MODES_ORDER))


def finite(values) -> np.ndarray:
    """The finite entries of ``values`` as floats."""
    data = np.asarray(values, dtype=float)
    return data[np.isfinite(data)]


DATASET_LABELS = {"mnist": "MNIST", "digits": "digits (8×8)", "cifar10": "CIFAR-10"}


def dataset_label(name: str) -> str:
    """How a dataset is named in titles (``mnist`` → ``MNIST``)."""
    return DATASET_LABELS.get(name, name)
