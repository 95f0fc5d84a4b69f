"""Cell-DAG networks: every vertex of a DAG is a convolutional cell (RandWire-like).

``CellDAGNet(dag, in_channels, num_classes)`` runs one user-given cell per DAG vertex, in
topological order. The network input feeds every source; every other vertex aggregates the
outputs of its predecessors; the sinks are aggregated the same way into the head
(global average pooling, then a linear classifier). Two aggregations:

* ``aggregate="sum"`` (RandWire, Xie et al. 2019): ``Σ_u sigmoid(w_uv) · x_u`` with one
  learnable scalar per edge (``edge_logits``, sigmoid(0) = ½ at the start); every cell gives
  ``channels`` channels, inputs must have equal spatial sizes. The sinks are averaged.
* ``aggregate="concat"`` (deepstruct's ``DeepCellDAN``): the predecessors' outputs are
  zero-padded at the bottom and right to the largest height and width among them and
  concatenated along the channels, so a vertex with ``k`` predecessors receives
  ``k · channels`` channels and cells may change the spatial size (e.g. stride 2).

``cell(in_channels, out_channels) -> nn.Module`` builds a vertex's cell (default
:func:`conv_cell`: ReLU → 3×3 convolution → BatchNorm, RandWire's node order with a plain
instead of a separable convolution — our choice, for readability). Its output must have
``out_channels`` channels (checked on every forward pass, naming the vertex).

The op-level structure is the DAG itself: :meth:`CellDAGNet.structure_graph` returns the
input DAG's vertices and edges (with the input and output vertices when asked), so
:func:`~hiddenstruct.graphs.to_graph` of the model gives back the DAG it was built from.

Example::

    >>> dag = nx.DiGraph([(0, 1), (0, 2), (1, 3), (2, 3)])
    >>> net = CellDAGNet(dag, in_channels=3, num_classes=10, channels=8)
    >>> net(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import networkx as nx
import torch
import torch.nn.functional as F
from torch import nn

from hiddenstruct.errors import GraphError, UsageError, check_choice
from hiddenstruct.graphs.dag import layer_index, to_dag
from hiddenstruct.nn.ffn import _check_positive

__all__ = ["AGGREGATIONS", "CellDAGNet", "conv_cell"]

AGGREGATIONS = ("sum", "concat")


def conv_cell(in_channels: int, out_channels: int) -> nn.Module:
    """ReLU → Conv2d 3×3 (padding 1, no bias) → BatchNorm2d: keeps the spatial size."""
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
    )


def _pad_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return F.pad(x, (0, width - x.shape[-1], 0, height - x.shape[-2]))


class CellDAGNet(nn.Module):
    """A CNN whose vertices are cells wired by a DAG (see the module docstring)."""

    def __init__(
        self,
        dag: nx.Graph,
        in_channels: int,
        num_classes: int,
        *,
        channels: int = 16,
        cell: Callable[[int, int], nn.Module] = conv_cell,
        aggregate: str = "sum",
    ) -> None:
        super().__init__()
        check_choice(aggregate, AGGREGATIONS, "aggregate")
        self.in_channels = _check_positive(in_channels, "in_channels")
        self.num_classes = _check_positive(num_classes, "num_classes")
        self.channels = _check_positive(channels, "channels")
        self.aggregate = aggregate
        D = to_dag(dag)
        self.dag = D
        self.vertices: tuple[Hashable, ...] = tuple(nx.topological_sort(D))
        position = {v: i for i, v in enumerate(self.vertices)}
        self.predecessors = tuple(
            tuple(position[u] for u in D.predecessors(v)) for v in self.vertices
        )
        self.sinks = tuple(position[v] for v in self.vertices if D.out_degree(v) == 0)
        cells = []
        for v, preds in zip(self.vertices, self.predecessors, strict=True):
            width = self._input_channels(len(preds))
            module = cell(width, self.channels)
            if not isinstance(module, nn.Module):
                raise UsageError(
                    f"cell({width}, {self.channels}) for vertex {v!r} returned no nn.Module"
                )
            cells.append(module)
        self.cells = nn.ModuleList(cells)
        self.edge_logits = (
            nn.Parameter(torch.zeros(D.number_of_edges())) if aggregate == "sum" else None
        )
        self._edge_slot = {}
        slot = 0
        for i, preds in enumerate(self.predecessors):
            for j in preds:
                self._edge_slot[(j, i)] = slot
                slot += 1
        head_width = self.channels * (len(self.sinks) if aggregate == "concat" else 1)
        self.classifier = nn.Linear(head_width, self.num_classes)

    def _input_channels(self, predecessors: int) -> int:
        if predecessors == 0:
            return self.in_channels
        return self.channels * (predecessors if self.aggregate == "concat" else 1)

    def _combine(self, inputs: list[torch.Tensor], weights: list[torch.Tensor] | None, where):
        if self.aggregate == "concat":
            height = max(x.shape[-2] for x in inputs)
            width = max(x.shape[-1] for x in inputs)
            return torch.cat([_pad_to(x, height, width) for x in inputs], dim=1)
        sizes = {tuple(x.shape[-2:]) for x in inputs}
        if len(sizes) > 1:
            raise UsageError(
                f"{where} receives maps of spatial sizes {sorted(sizes)}; aggregate='sum' needs "
                "equal sizes (cells that keep the size, or aggregate='concat', which zero-pads)"
            )
        if weights is None:
            return torch.stack(inputs).mean(0)
        return sum(w * x for w, x in zip(weights, inputs, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for images ``x`` of shape ``[B, in_channels, H, W]``."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise UsageError(
                f"expected images [batch, {self.in_channels}, height, width], got {tuple(x.shape)}"
            )
        gates = torch.sigmoid(self.edge_logits) if self.edge_logits is not None else None
        outputs: list[torch.Tensor] = []
        for i, (v, preds) in enumerate(zip(self.vertices, self.predecessors, strict=True)):
            if not preds:
                h = x
            else:
                weights = (
                    [gates[self._edge_slot[(j, i)]] for j in preds] if gates is not None else None
                )
                h = self._combine([outputs[j] for j in preds], weights, f"vertex {v!r}")
            out = self.cells[i](h)
            if out.dim() != 4 or out.shape[1] != self.channels:
                raise UsageError(
                    f"the cell of vertex {v!r} returned shape {tuple(out.shape)}; cells must "
                    f"return [batch, {self.channels}, height, width]"
                )
            outputs.append(out)
        h = self._combine([outputs[j] for j in self.sinks], None, "the head")
        return self.classifier(F.adaptive_avg_pool2d(h, 1).flatten(1))

    def structure_graph(self, include_io: bool = True) -> nx.DiGraph:
        """The op-level graph: the DAG's vertices (attributes ``layer``, ``role="hidden"``,
        ``cell``: the cell's class name) and edges; with ``include_io`` an input vertex
        ``("in", 0)`` feeding every source and an output vertex ``("out", 0)`` (the head)
        fed by every sink."""
        G = nx.DiGraph()
        layer = layer_index(self.dag)
        for v, module in zip(self.vertices, self.cells, strict=True):
            G.add_node(v, layer=layer[v], role="hidden", cell=type(module).__name__)
        G.add_edges_from(self.dag.edges)
        if include_io:
            clash = [v for v in (("in", 0), ("out", 0)) if v in G]
            if clash:
                raise GraphError(f"vertex label {clash[0]!r} collides with the input/output labels")
            depth = max(layer.values()) + 1
            G.add_node(("in", 0), layer=-1, role="input")
            G.add_node(("out", 0), layer=depth, role="output")
            G.add_edges_from((("in", 0), v) for v in self.vertices if self.dag.in_degree(v) == 0)
            G.add_edges_from((self.vertices[j], ("out", 0)) for j in self.sinks)
        return G

    def extra_repr(self) -> str:
        return (
            f"vertices={len(self.vertices)}, edges={self.dag.number_of_edges()}, "
            f"channels={self.channels}, aggregate={self.aggregate!r}"
        )
