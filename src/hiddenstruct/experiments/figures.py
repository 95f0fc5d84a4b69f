"""Figure helpers kept under their old import path; the style lives in
:mod:`hiddenstruct.experiments.plots.style` (one style for every figure).

Example::

    >>> with styled():
    ...     fig, ax = new_figure()
    ...     plot_mean_std(ax, [1, 2, 3], [[0.5, 0.7, 0.8], [0.4, 0.6, 0.9]], label="GRU")
    ...     save_figure(fig, "out/curve.png", svg=True)
"""

from __future__ import annotations

from hiddenstruct.experiments.plots import style
from hiddenstruct.experiments.plots.style import mean_std, plot_mean_std, save_figure, styled

__all__ = ["mean_std", "new_figure", "plot_mean_std", "save_figure", "styled"]


def new_figure(width: float = 8.4, height: float = 4.2):
    """A styled-size figure with one axes (inches): ``(fig, ax)``; build it inside
    :func:`styled` for the shared fonts and grid."""
    fig, axes = style.new_figure(width, height)
    return fig, axes[0][0]
