"""Topology distances between the sparse-routes' final structures (:mod:`.sparse_routes`).

Each trial stores its final masks, bit-packed (``result["final_masks"]``: a list of
``{"name", "shape", "bits"}``, the bits base64 text so the result stays JSON and an export
holds them in one column). Here the masks of the trials that share a model, density and
repeat are rebuilt into mask graphs (inputs and outputs included; one group at a time, so
memory holds one group's graphs) and compared pairwise with
:func:`~hiddenstruct.graphs.topology_distance` (NNSTD, Liu et al. 2020):
``topology.csv`` lists every pair and ``topology_<model>.png`` draws the route × route
matrix at the lowest density, averaged over repeats. Trials stored before masks were kept
have none and are left out (the CSV's ``note`` says so when a group has fewer than two).
"""

from __future__ import annotations

import base64
import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hiddenstruct.trials.store import TrialRecord


def encode_masks(model) -> list[dict[str, Any]]:
    """Every mask of ``model`` as ``{"name", "shape", "bits": base64 of its packed bits}``."""
    from hiddenstruct.nn.masking import masks

    out = []
    for name, mask in masks(model).items():
        flat = mask.detach().bool().flatten().cpu().numpy()
        bits = base64.b64encode(np.packbits(flat).tobytes()).decode("ascii")
        out.append({"name": name, "shape": list(mask.shape), "bits": bits})
    return out


def decode_masks(encoded: list[dict[str, Any]]):
    """Inverse of :func:`encode_masks`: name → bool tensor."""
    import torch

    out = {}
    for packed in encoded:
        name = packed["name"]
        shape = [int(d) for d in packed["shape"]]
        count = int(np.prod(shape))
        raw = np.frombuffer(base64.b64decode(packed["bits"]), dtype=np.uint8)
        flat = np.unpackbits(raw, count=count).astype(bool)
        out[name] = torch.from_numpy(flat.reshape(shape))
    return out


def _final_graph(record: TrialRecord, build_model: Callable[[dict[str, Any]], Any]):
    """The mask graph (with inputs and outputs) of a trial's stored final masks, or None."""
    from hiddenstruct.nn.masking import apply_masks
    from hiddenstruct.sparse_training.structure import mask_graph

    if "final_masks" not in (record.result or {}):
        return None
    model = build_model(record.config)
    apply_masks(model, decode_masks(record.result["final_masks"]))
    return mask_graph(model, include_io=True)


def topology_rows(
    records: list[TrialRecord], build_model: Callable[[dict[str, Any]], Any]
) -> list[dict[str, Any]]:
    """One row per pair of routes with the same model, density and repeat;
    ``build_model(config)`` makes a fresh model of a trial's family."""
    from hiddenstruct.graphs.topology import topology_distance

    groups: dict[tuple, list[TrialRecord]] = defaultdict(list)
    for record in records:
        if record.status == "done":
            c = record.config
            groups[(c["model"], c["density"], c["repeat"])].append(record)
    rows = []
    for (model, density, repeat), members in sorted(groups.items()):
        key = {"model": model, "density": density, "repeat": repeat}
        graphs = {r.config["route"]: _final_graph(r, build_model) for r in members}
        routes = sorted(route for route, graph in graphs.items() if graph is not None)
        if len(routes) < 2:
            note = f"only {len(routes)} trial(s) of this group stored final masks"
            rows.append({**key, "route_a": "", "route_b": "", "distance": math.nan, "note": note})
            continue
        for i, a in enumerate(routes):
            for b in routes[i + 1 :]:
                distance = topology_distance(graphs[a], graphs[b])
                rows.append({**key, "route_a": a, "route_b": b, "distance": distance, "note": ""})
    return rows


def write_topology_figures(rows: list[dict[str, Any]], out_dir: Path) -> dict[str, str]:
    """Per model: the route × route matrix of mean distances at the lowest density."""
    from hiddenstruct.experiments.figures import new_figure, save_figure

    written = {}
    pairs = [r for r in rows if r["route_a"]]
    for model in sorted({r["model"] for r in pairs}):
        mine = [r for r in pairs if r["model"] == model]
        lowest = min(r["density"] for r in mine)
        mine = [r for r in mine if r["density"] == lowest]
        routes = sorted({r["route_a"] for r in mine} | {r["route_b"] for r in mine})
        where = {route: i for i, route in enumerate(routes)}
        sums, counts = np.zeros((len(routes),) * 2), np.zeros((len(routes),) * 2)
        for r in mine:
            i, j = where[r["route_a"]], where[r["route_b"]]
            for x, y in ((i, j), (j, i)):
                sums[x, y] += r["distance"]
                counts[x, y] += 1
        matrix = np.divide(sums, counts, out=np.full_like(sums, np.nan), where=counts > 0)
        np.fill_diagonal(matrix, 0.0)
        repeats = len({r["repeat"] for r in mine})
        fig, axes = new_figure(5.0, 4.2)
        ax = axes[0][0]
        image = ax.imshow(matrix, cmap="viridis", vmin=0, vmax=1)
        for (y, x), value in np.ndenumerate(matrix):
            if np.isfinite(value):
                ink = "black" if value > 0.6 else "white"  # readable on viridis' light end
                ax.text(x, y, f"{value:.2f}", ha="center", va="center", fontsize=6, color=ink)
        ax.set_xticks(range(len(routes)), routes, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(routes)), routes, fontsize=7)
        ax.set_title(
            f"{model}: topology distance (NNSTD), density {lowest}, "
            + (f"mean of {repeats} repeats" if repeats > 1 else "1 repeat"),
            fontsize=8,
        )
        fig.colorbar(image, ax=ax, shrink=0.8)
        written[f"topology_{model}"] = str(save_figure(fig, out_dir / f"topology_{model}.png")[0])
    return written
