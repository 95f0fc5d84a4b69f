"""Structure over training: graph properties and per-layer ξ of the current masks.

:class:`StructureTracker` is told of every mask update by a dynamic sparse training method
or :class:`~hiddenstruct.sparse_training.MagnitudeThreshold` and, every ``every`` updates,
records one dict: ``step``, ``update``, ``xi`` (ξ over all sparse layers), ``xi:<layer>``
per layer and the structural graph properties (docs/priors-and-prediction.md) of the *mask*
graph (one edge per mask entry 1, whatever the weight's value, so a just-regrown zero weight
counts) — ``records`` is a list of plain dicts a trial can store.

With ``topology=True`` every record also holds the topology distance (NNSTD, Liu et al. 2020;
:func:`~hiddenstruct.graphs.topology_distance`, on the mask graph with inputs and outputs)
to the first recorded structure (``topology_to_start``) and to the previous record
(``topology_to_previous``, NaN on the first record: there is none). The tracker keeps those
two graphs. :meth:`StructureTracker.on_prune_step` is the ``on_step`` callback of
:func:`~hiddenstruct.pruning.iterative_prune`, so lottery-ticket rounds (``rewind_to``) are
tracked the same way, one record per round.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import networkx as nx
import torch
from torch import nn

from hiddenstruct.errors import GraphError, HiddenstructError
from hiddenstruct.graphs.convert import UnsupportedModelError, to_graph
from hiddenstruct.graphs.properties import properties
from hiddenstruct.graphs.topology import topology_distance
from hiddenstruct.sparsity.tensors import sparse_layers

__all__ = ["StructureTracker", "mask_graph", "structure_record"]


@contextmanager
def _weights_replaced_by_masks(model: nn.Module) -> Iterator[None]:
    """Temporarily set every masked parameter to its mask (restored on exit)."""
    layers = sparse_layers(model, mask_plain=False)
    saved = [layer.raw_weight.detach().clone() for layer in layers]
    try:
        with torch.no_grad():
            for layer in layers:
                layer.raw_weight.copy_(layer.current_mask)
        yield
    finally:
        with torch.no_grad():
            for layer, value in zip(layers, saved, strict=True):
                layer.raw_weight.copy_(value)


def mask_graph(model: nn.Module, include_io: bool = True) -> nx.DiGraph:
    """:func:`~hiddenstruct.graphs.to_graph` of ``model`` with one edge per mask entry 1."""
    with _weights_replaced_by_masks(model):
        return to_graph(model, include_io=include_io)


def structure_record(
    model: nn.Module,
    include_io: bool = False,
    backend: str = "igraph",
    disconnected: str = "largest",
    graph: nx.DiGraph | None = None,
) -> dict[str, Any]:
    """ξ (total and ``xi:<layer>``) and the mask graph's properties of ``model`` now.

    Models without a graph structure (plain torch modules) get ξ only and
    ``graph_error`` saying why; so do graphs without edges (e.g. one recurrent layer
    with ``include_io=False``). ``graph``: the mask graph when the caller has built it.
    """
    layers = sparse_layers(model, mask_plain=False)
    live = sum(layer.live for layer in layers)
    record: dict[str, Any] = {"xi": live / max(sum(layer.numel for layer in layers), 1)}
    for layer in layers:
        record[f"xi:{layer.name}"] = layer.live / layer.numel
    try:
        graph = mask_graph(model, include_io) if graph is None else graph
    except UnsupportedModelError as err:
        record["graph_error"] = str(err)
        return record
    if graph.number_of_edges() == 0:
        record["graph_error"] = (
            "the mask graph has no edges (a single hidden layer without include_io has none)"
        )
        return record
    try:
        record.update(properties(graph, backend, disconnected=disconnected))
    except GraphError as err:
        record["graph_error"] = str(err)
    return record


class StructureTracker:
    """Record :func:`structure_record` every ``every`` mask updates (and on :meth:`record`).

    ``include_io``, ``backend`` and ``disconnected`` go to the graph and
    :func:`~hiddenstruct.graphs.properties` (defaults: hidden neurons only, the fast igraph
    backend, the largest connected component of a graph in several parts). ``topology``
    adds ``topology_to_start`` and ``topology_to_previous`` (module docstring).
    """

    def __init__(
        self,
        model: nn.Module,
        every: int = 1,
        *,
        include_io: bool = False,
        backend: str = "igraph",
        disconnected: str = "largest",
        topology: bool = False,
    ) -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1 update, got {every}")
        self.model = model
        self.every = int(every)
        self.include_io = include_io
        self.backend = backend
        self.disconnected = disconnected
        self.topology = bool(topology)
        self.records: list[dict[str, Any]] = []
        self._start: nx.DiGraph | None = None
        self._previous: nx.DiGraph | None = None

    def record(self, step: int | None = None, update: int | None = None) -> dict[str, Any]:
        """Record the structure now (e.g. before training and at its end); returns the row."""
        row: dict[str, Any] = {"step": step, "update": update}
        io_graph = self._io_graph() if self.topology else None
        shared = io_graph if self.include_io else None
        row.update(
            structure_record(
                self.model, self.include_io, self.backend, self.disconnected, graph=shared
            )
        )
        if io_graph is not None:
            row.update(self._distances(io_graph))
        self.records.append(row)
        return row

    def _io_graph(self) -> nx.DiGraph | None:
        try:
            return mask_graph(self.model, include_io=True)
        except UnsupportedModelError:
            return None  # structure_record says why in graph_error

    def _distances(self, graph: nx.DiGraph) -> dict[str, Any]:
        if self._start is None:
            self._start = graph
            out: dict[str, Any] = {"topology_to_start": 0.0, "topology_to_previous": math.nan}
        else:
            try:
                out = {
                    "topology_to_start": topology_distance(self._start, graph),
                    "topology_to_previous": topology_distance(self._previous, graph),
                }
            except HiddenstructError as err:
                out = {
                    "topology_to_start": math.nan,
                    "topology_to_previous": math.nan,
                    "topology_error": str(err),
                }
        self._previous = graph
        return out

    def on_prune_step(self, step: Any) -> None:
        """``on_step`` of :func:`~hiddenstruct.pruning.iterative_prune`: one record per round
        (``update`` = the round, from 1)."""
        self.record(step=None, update=step.step + 1)

    def on_update(self, step: int | None, update: int) -> None:
        """Called by a method after its ``update``-th mask update."""
        if update % self.every == 0:
            self.record(step, update)
