"""The paper's figures from DataFrames, in one shared style (PNG + SVG).

* :mod:`.style` — fonts, colours, percent axes, mean ± std bands, saving.
* :mod:`.pruning` — Figure 2a (feed-forward), Figures 2b / 5a / 5b (recurrent scopes).
* :mod:`.priors` — Figure 7 (WS vs BA per mode) and Table 1 as an annotated heatmap.
* :mod:`.nas` — Figure 8b (top-k features) and the best accuracy over search time.

Every function takes plain DataFrames (the experiments' CSV tables), so a figure can be
redrawn from ``curves.csv`` / ``points.csv`` / ``meta_dataset.csv`` without rerunning.
"""

from hiddenstruct.experiments.plots.nas import best_over_time, figure8b
from hiddenstruct.experiments.plots.priors import figure7, table1_heatmap
from hiddenstruct.experiments.plots.pruning import figure2a, recurrent_scope_figures

__all__ = [
    "best_over_time",
    "figure2a",
    "figure7",
    "figure8b",
    "recurrent_scope_figures",
    "table1_heatmap",
]
