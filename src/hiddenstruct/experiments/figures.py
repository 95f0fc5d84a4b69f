"""The one figure style of every hiddenstruct figure: sizes, fonts, colours, series styles,
percent axes, chance lines, legends that hide no data, and saving.

Figures are :class:`matplotlib.figure.Figure` objects rendered by Agg (no pyplot, no global
state); the style is applied through ``matplotlib.rc_context`` only while a figure is built
(:func:`styled`). Every PNG is written at least :data:`MIN_WIDTH_PX` pixels wide (the report
shows a figure at most as wide as it was drawn, so nothing is upscaled and blurred).

Example::

    >>> with styled():
    ...     fig, axes = new_figure(8, 4)
    ...     ax = axes[0][0]
    ...     for i, (name, ys) in enumerate({"GRU": [0.6, 0.8], "LSTM": [0.55, 0.9]}.items()):
    ...         ax.plot([1, 2], ys, label=name, **series_style(i))
    ...     chance_line(ax, 0.5)
    ...     legend_below(fig, ax)
    ...     save(fig, "out/curve.png")
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from hiddenstruct.errors import HiddenstructError
from hiddenstruct.outputs import write_with

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
#: Every PNG is at least this many pixels wide (the report never shows it wider than drawn).
MIN_WIDTH_PX = 1200
#: Per series: marker and line style cycle with the colour, so overlapping lines stay visible.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")


@contextmanager
def styled() -> Iterator[None]:
    """Apply the shared rc settings while a figure is being built."""
    with matplotlib.rc_context(RC):
        yield


def new_figure(width: float, height: float, rows: int = 1, cols: int = 1, **kwargs):
    """A constrained-layout Agg figure and its axes array (``squeeze=False``); inches."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, cols, squeeze=False, **kwargs)


def series_style(index: int, zorder_base: float = 2.0) -> dict:
    """Marker, line style and draw order of the ``index``-th series: later series are drawn
    thinner and on top, so a line lying on another one still shows."""
    return {
        "marker": MARKERS[index % len(MARKERS)],
        "ls": LINESTYLES[index % len(LINESTYLES)],
        "ms": 4.5,
        "lw": max(0.9, 2.2 - 0.3 * index),
        "zorder": zorder_base + 0.1 * index,
    }


def chance_line(ax: Axes, chance: float, label: bool = True, percent: bool = False) -> None:
    """A dotted horizontal line at chance accuracy (``chance`` in 0–1; drawn ×100 when the
    axis shows percent), labelled at its left end."""
    if chance is None or not math.isfinite(chance):
        return
    y = 100 * chance if percent else chance
    ax.axhline(y, color="#555", ls=":", lw=1.1, zorder=1)
    if label:
        ax.annotate(
            f"chance {100 * chance:.0f} %", (0.01, y), xycoords=("axes fraction", "data"),
            xytext=(0, 2), textcoords="offset points", fontsize=8, color="#555", va="bottom",
        )  # fmt: skip


def legend_below(
    fig: Figure, ax: Axes | None = None, ncols: int | None = None, right: bool = False
) -> None:
    """One legend for the figure, outside the axes (below them; ``right`` of them when the
    bottom holds a :func:`caption`), so it hides no data."""
    source = ax if ax is not None else fig.axes[0]
    handles, labels = source.get_legend_handles_labels()
    if not handles:
        return
    if right:
        fig.legend(handles, labels, loc="outside right upper", frameon=False)
        return
    fig.legend(
        handles, labels, loc="outside lower center", ncols=ncols or min(len(labels), 5),
        frameon=False,
    )  # fmt: skip


def spans_decades(values: Sequence[float], decades: float = 1.0) -> bool:
    """True when the positive ``values`` span at least ``decades`` powers of ten (a log axis
    is only worth it then)."""
    data = finite(values)
    data = data[data > 0]
    return len(data) > 1 and math.log10(data.max() / data.min()) >= decades


def spread_text(repeats: int, what: str = "repeat") -> str:
    """``"mean ± std over 3 repeats"``, or ``"1 repeat: no spread"`` (never "± … over 1")."""
    if repeats <= 1:
        return f"{repeats} {what}: no spread"
    return f"mean ± std over {repeats} {what}s"


def percent_axis(ax: Axes, which: str = "both") -> None:
    """Label an axis whose data is already in percent (0–100) with ``%`` ticks."""
    if which in ("x", "both"):
        ax.xaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    if which in ("y", "both"):
        ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))


def mean_band(
    ax: Axes, frame: pd.DataFrame, x: str, y: str, label: str, color: str | None, index: int = 0
):
    """Mean of ``y`` per ``x`` as a line (the ``index``-th series' marker and line style),
    ± one std over the rows (repeats) as a band."""
    grouped = frame.groupby(x)[y]
    mean, std = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    (line,) = ax.plot(mean.index, mean.values, label=label, color=color, **series_style(index))
    if (std > 0).any():
        ax.fill_between(
            mean.index, mean - std, mean + std, color=line.get_color(), alpha=0.18, lw=0
        )
    return line


def caption(fig: Figure, text: str, fontsize: float = 8.5) -> None:
    """A caption at the bottom of the figure, wrapped to its width; the layout keeps room
    for it (a ``supxlabel``), under the legend and the axes."""

    width_chars = max(20, int(fig.get_figwidth() * 72 / (0.52 * fontsize)))
    fig.supxlabel(
        "\n".join(textwrap.wrap(text, width_chars)), x=0.01, ha="left", fontsize=fontsize,
        color="#444",
    )  # fmt: skip


def png_dpi(fig: Figure, dpi: int = DPI) -> int:
    """``dpi``, raised so that the PNG is at least :data:`MIN_WIDTH_PX` pixels wide."""
    width = float(fig.get_figwidth())
    return max(int(dpi), math.ceil(MIN_WIDTH_PX / width)) if width > 0 else int(dpi)


def _atomic_savefig(fig: Figure, path: Path, fmt: str, dpi: int) -> None:
    write_with(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi))


def save_figure(fig: Figure, path: str | Path, svg: bool = False, dpi: int = DPI) -> list[Path]:
    """Write ``path`` as PNG (at least :data:`MIN_WIDTH_PX` wide; a sibling ``.svg`` when
    asked) atomically; return the paths."""
    png = Path(path).with_suffix(".png")
    try:
        png.parent.mkdir(parents=True, exist_ok=True)
        written = [png]
        _atomic_savefig(fig, png, "png", png_dpi(fig, dpi))
        if svg:
            written.append(png.with_suffix(".svg"))
            _atomic_savefig(fig, written[-1], "svg", dpi)
    except (OSError, HiddenstructError) as err:
        raise HiddenstructError(f"cannot write figure {png}: {err}") from None
    return written


def save(fig: Figure, path: str | Path) -> list[Path]:
    """Write ``path`` as PNG and SVG (atomically); returns both paths."""
    return save_figure(fig, path, svg=True, dpi=DPI)


def mean_std(curves: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise mean and sample std (0 for a single curve) of equally long curves."""
    data = np.asarray(curves, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"curves must be a 2-D sequence [runs, points], got shape {data.shape}")
    std = data.std(axis=0, ddof=1) if data.shape[0] > 1 else np.zeros(data.shape[1])
    return data.mean(axis=0), std


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
