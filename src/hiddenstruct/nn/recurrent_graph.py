"""Structure graphs of recurrent layers: one node per neuron, one edge per live i2h connection.

Shared by :class:`~hiddenstruct.nn.rnn.MaskedRNN`, :class:`~hiddenstruct.nn.graphrnn.GraphRNN`
and :class:`~hiddenstruct.nn.classifier.SequenceClassifier`; a connection is live when any
gate's entry of the stacked weight is non-zero.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import networkx as nx
import torch


def live_connections(weight: torch.Tensor, gates: int) -> torch.Tensor:
    """Bool [H, F]: whether any gate's entry of a stacked [gates·H, F] weight is non-zero."""
    rows, cols = weight.shape
    return (weight.detach() != 0).reshape(gates, rows // gates, cols).any(dim=0).cpu()


def recurrent_structure_graph(
    groups: Sequence[Sequence[Hashable]],
    columns: Sequence[Sequence[Hashable] | None],
    i2h_weights: Sequence[torch.Tensor],
    gates: int,
    include_io: bool = True,
) -> nx.DiGraph:
    """Graph of stacked-gate i2h weights: ``groups[l]`` labels layer l's neurons,
    ``columns[l]`` the nodes feeding layer l's weight (``None``: the inputs ``("in", i)``,
    drawn only with ``include_io``). One edge per connection live in any gate."""
    G = nx.DiGraph()
    for index, group in enumerate(groups):
        G.add_nodes_from(
            (v, {"layer": index, "unit": p, "role": "hidden"}) for p, v in enumerate(group)
        )
    for group, cols, weight in zip(groups, columns, i2h_weights, strict=True):
        if cols is None:
            if not include_io:
                continue
            cols = [("in", i) for i in range(weight.shape[1])]
            G.add_nodes_from(
                (v, {"layer": -1, "unit": i, "role": "input"}) for i, v in enumerate(cols)
            )
        targets, sources = live_connections(weight, gates).nonzero(as_tuple=True)
        G.add_edges_from(
            (cols[s], group[t]) for s, t in zip(sources.tolist(), targets.tolist(), strict=True)
        )
    return G


def add_readout(G: nx.DiGraph, last: Sequence[Hashable], weight: torch.Tensor) -> nx.DiGraph:
    """Add outputs ``("out", k)`` (layer after the last hidden one) fed by live readout weights."""
    out_layer = 1 + max((d["layer"] for _, d in G.nodes(data=True)), default=-1)
    G.add_nodes_from(
        (("out", k), {"layer": out_layer, "unit": k, "role": "output"})
        for k in range(weight.shape[0])
    )
    rows, cols = (weight.detach() != 0).cpu().nonzero(as_tuple=True)
    G.add_edges_from(
        (last[c], ("out", r)) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
    )
    return G
