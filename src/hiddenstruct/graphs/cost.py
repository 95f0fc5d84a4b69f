"""Rough running time of :func:`hiddenstruct.graphs.properties.properties`, to warn before a
computation that takes hours.

Betweenness and all-pairs distances dominate: time ≈ c · V · E. The constants are our
measurement (2 shared CPU cores, load ≈ 6, Erdős–Rényi graphs of 1 000–4 000 vertices and
5 000–20 000 edges: igraph 1.9–3.0e-7 s, networkx 9.1e-6 s per V·E); they are upper-end
values, so the estimate is pessimistic on an idle machine.
"""

from __future__ import annotations

SECONDS_PER_VE = {"igraph": 3e-7, "networkx": 1e-5}
WARN_SECONDS = 60.0


def estimated_seconds(nodes: int, edges: int, backend: str) -> float:
    """Rough seconds for the properties of a graph with ``nodes`` vertices and ``edges`` edges."""
    return SECONDS_PER_VE.get(backend, max(SECONDS_PER_VE.values())) * nodes * edges


def human_duration(seconds: float) -> str:
    """'45 s', '12 min', '3.4 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
