"""Draw a genotype as a PNG with matplotlib only (no graphviz): vertices placed by layer index."""

from __future__ import annotations

import math
from pathlib import Path

from hiddenstruct.errors import HiddenstructError
from hiddenstruct.nas.genotype import Genotype
from hiddenstruct.nas.ops import OPS
from hiddenstruct.outputs import write_with

_COLOURS = {
    "conv": "#8ecae6",
    "pool": "#ffb703",
    "merge": "#b7e4c7",
    "identity": "#e9ecef",
    "input": "#adb5bd",
    "output": "#adb5bd",
}


def layout(genotype: Genotype) -> dict[int, tuple[float, float]]:
    """Positions: x = slot within the layer (centred), y = −layer index (input on top)."""
    by_layer: dict[int, list[int]] = {}
    for v, layer in enumerate(genotype.layer_index):
        by_layer.setdefault(layer, []).append(v)
    pos = {}
    for layer, members in by_layer.items():
        for slot, v in enumerate(members):
            pos[v] = (slot - (len(members) - 1) / 2, -float(layer))
    return pos


def render_png(
    genotype: Genotype, path: str | Path, title: str | None = None, dpi: int = 150
) -> Path:
    """Write a layered drawing of ``genotype`` to ``path`` (atomically) at ``dpi``, raised so
    the PNG is at least 1200 pixels wide (as every report figure); return the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pos = layout(genotype)
    span = max(x for x, _ in pos.values()) - min(x for x, _ in pos.values()) + 1
    width = max(8.4, 1.6 * span)
    height = max(3.6, 0.7 * genotype.depth)
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 0.95 if title else 1))
    ax.set_axis_off()
    for u, v in genotype.edges:
        (x0, y0), (x1, y1) = pos[u], pos[v]
        ax.annotate(
            "",
            xy=(x1, y1 + 0.18),
            xytext=(x0, y0 - 0.18),
            arrowprops={"arrowstyle": "->", "color": "#555", "lw": 0.8},
        )
    for v, (x, y) in pos.items():
        vertex = genotype.vertices[v]
        colour = _COLOURS[OPS[vertex.op].family]
        ax.text(
            x,
            y,
            vertex.label(),
            ha="center",
            va="center",
            fontsize=7,
            bbox={"boxstyle": "round", "fc": colour, "ec": "#333", "lw": 0.6},
        )
    xs = [x for x, _ in pos.values()]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(-genotype.depth + 0.4, 0.6)
    if title:
        fig.suptitle(title, fontsize=9)

    path = Path(path)
    width = float(fig.get_figwidth())
    dpi = max(int(dpi), math.ceil(1200 / width)) if width > 0 else int(dpi)
    try:
        return write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))
    except HiddenstructError as err:
        raise HiddenstructError(f"cannot write genotype drawing {path}: {err}") from None
