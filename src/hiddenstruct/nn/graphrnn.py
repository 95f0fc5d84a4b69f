"""Recurrent networks wired by a DAG (paper §2 "Sparse Recurrent Neural Networks", §4.3;
docs/recurrent.md).

The DAG's layers (``hiddenstruct.graphs.layers``; undirected graphs are oriented first with
``to_dag``) become recurrent layers. Layer ``l`` with ``n_l`` vertices computes

    h_t^l = σ( (W^l ⊙ M^l) · [h_t^0; …; h_t^{l−1}] + (U^l ⊙ M_U^l) · h_{t−1}^l + b^l )

(per gate for GRU/LSTM). ``W^l`` (``layers.<l>.weight_ih``, [gates·n_l, Σ_{s<l} n_s]) has a
mask that is 1 exactly on the graph's edges s→v; layer 0 is fed densely by the input
(``[gates·n_0, input_size]``, all-ones mask). ``U^l`` (``layers.<l>.weight_hh``) is the
recurrence, all-ones masked. Every mask can later be replaced by any binary mask (pruning,
packing several graphs block-diagonally). The whole stack runs as one node of the recurrent
engine (:func:`~hiddenstruct.nn.rnn_native.run_stack`); a layer's input is the
concatenation of the earlier layers' output sequences.

Example::

    >>> G = nx.watts_strogatz_graph(20, 4, 0.3, seed=1)
    >>> net = GraphRNN(G, input_size=8, mode="gru", output_size=2)
    >>> net(torch.randn(5, 12, 8), lengths=torch.tensor([12, 4, 7, 9, 1])).shape
    torch.Size([5, 2])
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import networkx as nx
import torch
from torch import nn

from hiddenstruct.errors import GraphError
from hiddenstruct.graphs.dag import layers as dag_layers
from hiddenstruct.graphs.dag import to_dag
from hiddenstruct.nn.masking import apply_mask
from hiddenstruct.nn.recurrent_graph import add_readout, recurrent_structure_graph
from hiddenstruct.nn.rnn import RecurrentLayer, RecurrentStack, engine_operands, get_mode
from hiddenstruct.nn.rnn_native import run_stack
from hiddenstruct.nn.validate import check_sequence_batch
from hiddenstruct.nn.varlen import Wiring, check_lengths


def edge_mask(
    dag: nx.DiGraph,
    vertex_index: dict[Hashable, tuple[int, int]],
    sizes: Sequence[int],
    layer: int,
    gates: int,
) -> torch.Tensor:
    """The i2h mask of ``layer`` (> 0): 1 exactly where an edge s→v enters the layer, all gates."""
    offsets = [0]
    for n in sizes[:layer]:
        offsets.append(offsets[-1] + n)
    n_l = sizes[layer]
    mask = torch.zeros(gates, n_l, offsets[layer])
    rows, cols = [], []
    for u, v in dag.edges:
        lv, pv = vertex_index[v]
        if lv != layer:
            continue
        lu, pu = vertex_index[u]
        rows.append(pv)
        cols.append(offsets[lu] + pu)
    if rows:
        mask[:, torch.tensor(rows), torch.tensor(cols)] = 1.0
    return mask.reshape(gates * n_l, offsets[layer])


class GraphRNN(RecurrentStack):
    """A recurrent network whose layer wiring is a DAG; see the module docstring.

    ``forward(x, lengths=None)`` returns the last layer's final hidden state [B, n_last]
    (or logits [B, output_size] when ``output_size`` is given); :meth:`layer_states`
    returns every layer's final hidden state. ``vertex_index[v] = (layer, position)``.
    Bad graphs (empty, cycles, self-loops, multigraphs) raise :class:`GraphError`.
    """

    def __init__(
        self,
        graph: nx.Graph,
        input_size: int,
        mode: str = "RNN_TANH",
        output_size: int | None = None,
        *,
        order: Sequence[Hashable] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(graph, nx.Graph):
            raise GraphError(f"expected a networkx graph, got {type(graph).__name__}")
        dag = to_dag(graph, order=order, seed=seed)
        if int(input_size) < 1:
            raise ValueError(f"input_size must be positive, got {input_size}")
        if output_size is not None and int(output_size) < 1:
            raise ValueError(f"output_size must be positive or None, got {output_size}")
        self.spec = get_mode(mode)
        self.input_size = int(input_size)
        self.output_size = None if output_size is None else int(output_size)
        self.vertices: list[list[Hashable]] = dag_layers(dag)
        self.vertex_index: dict[Hashable, tuple[int, int]] = {
            v: (li, pos) for li, group in enumerate(self.vertices) for pos, v in enumerate(group)
        }
        self.layer_sizes = tuple(len(group) for group in self.vertices)
        self.layers = nn.ModuleList()
        fan_in = self.input_size
        for li, n_l in enumerate(self.layer_sizes):
            layer = RecurrentLayer(fan_in, n_l, self.spec)
            if li > 0:
                mask = edge_mask(dag, self.vertex_index, self.layer_sizes, li, self.spec.gates)
                apply_mask(layer, "weight_ih", mask)
            self.layers.append(layer)
            fan_in = sum(self.layer_sizes[: li + 1])
        self.readout = (
            None if output_size is None else nn.Linear(self.layer_sizes[-1], self.output_size)
        )

    def layer_states(self, x: torch.Tensor, lengths=None) -> list[torch.Tensor]:
        """Final hidden state ``h`` [B, n_l] of every layer at each sequence's true last step."""
        return list(self._final(x, lengths, all_layers=True).split(self.layer_sizes, dim=1))

    def encode(self, x: torch.Tensor, lengths=None) -> torch.Tensor:
        """The last layer's final hidden state [B, n_last] (no readout)."""
        return self._final(x, lengths, all_layers=False)

    def _final(self, x: torch.Tensor, lengths, all_layers: bool) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"expected input of shape [batch, time, {self.input_size}], got {tuple(x.shape)}"
            )
        check_sequence_batch(x, lengths)
        if lengths is not None:
            lengths = check_lengths(lengths, x.shape[0], x.shape[1])
        wiring = Wiring.dag(self.spec, self.layer_sizes, all_layers)
        weights, masks, premask = engine_operands(self.layers)
        return run_stack(wiring, x, lengths, weights, masks=masks, premask=premask).final

    def forward(self, x: torch.Tensor, lengths=None) -> torch.Tensor:
        """Last layer's final state, passed through the readout when ``output_size`` is set."""
        h = self.encode(x, lengths)
        return h if self.readout is None else self.readout(h)

    def node_groups(self) -> list[list[Hashable]]:
        """The graph's vertices per layer (the node labels of :meth:`structure_graph`)."""
        return [list(group) for group in self.vertices]

    def structure_graph(self, include_io: bool = True) -> nx.DiGraph:
        """The i2h structure: the graph's vertices (``layer``, ``unit``, ``role``), one edge per
        live connection (any gate's ``mask·weight`` ≠ 0). With ``include_io`` the inputs
        ``("in", i)`` (layer −1) and, with a readout, the outputs ``("out", k)`` are added."""
        columns = [None] + [
            [v for group in self.vertices[:li] for v in group] for li in range(1, len(self.layers))
        ]
        G = recurrent_structure_graph(
            self.vertices,
            columns,
            [layer.weight_ih for layer in self.layers],
            self.spec.gates,
            include_io,
        )
        if include_io and self.readout is not None:
            add_readout(G, self.vertices[-1], self.readout.weight)
        return G

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, layer_sizes={list(self.layer_sizes)}, "
            f"mode={self.mode}, output_size={self.output_size}"
        )
