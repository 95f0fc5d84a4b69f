"""Shared matplotlib helpers: Agg-rendered figures, atomic PNG/SVG saving, mean ± std curves.

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot), so nothing
touches matplotlib's global state or needs a display.

Example::

    >>> fig, ax = new_figure()
    >>> plot_mean_std(ax, [1, 2, 3], [[0.5, 0.7, 0.8], [0.4, 0.6, 0.9]], label="GRU")
    >>> save_figure(fig, "out/curve.png", svg=True)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hiddenstruct.errors import HiddenstructError
from hiddenstruct.outputs import write_with


def new_figure(width: float = 5.5, height: float = 3.6) -> tuple[Figure, Axes]:
    """A figure with one axes, rendered by Agg (inches)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _atomic_savefig(fig: Figure, path: Path, fmt: str, dpi: int) -> None:
    write_with(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi))


def save_figure(fig: Figure, path: str | Path, svg: bool = False, dpi: int = 120) -> list[Path]:
    """Write ``path`` as PNG (and a sibling ``.svg`` when asked) atomically; return the paths."""
    png = Path(path).with_suffix(".png")
    try:
        png.parent.mkdir(parents=True, exist_ok=True)
        written = [png]
        _atomic_savefig(fig, png, "png", dpi)
        if svg:
            written.append(png.with_suffix(".svg"))
            _atomic_savefig(fig, written[-1], "svg", dpi)
    except (OSError, HiddenstructError) as err:
        raise HiddenstructError(f"cannot write figure {png}: {err}") from None
    return written


def mean_std(curves: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise mean and sample std (0 for a single curve) of equally long curves."""
    data = np.asarray(curves, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"curves must be a 2-D sequence [runs, points], got shape {data.shape}")
    std = data.std(axis=0, ddof=1) if data.shape[0] > 1 else np.zeros(data.shape[1])
    return data.mean(axis=0), std


def plot_mean_std(
    ax: Axes,
    x: Sequence[float],
    curves: Sequence[Sequence[float]],
    label: str | None = None,
    color: str | None = None,
    alpha: float = 0.2,
) -> None:
    """Plot the mean of ``curves`` as a line with a shaded ± one standard deviation band."""
    mean, std = mean_std(curves)
    (line,) = ax.plot(x, mean, label=label, color=color, marker="o", markersize=3)
    ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=alpha, linewidth=0)
