"""Relational-graph masks for our masked layers, graph2nn's MLP, and width matching.

From an undirected graph on ``n`` nodes (self-loops added) a weight matrix of shape
``(out, in)`` gets a block mask: the ``in`` inputs and the ``out`` outputs are each split
into ``n`` groups, group ``j`` of the inputs on node ``j``, group ``i`` of the outputs on node
``i``, and the block ``(i, j)`` is kept iff ``i == j`` or ``{i, j}`` is an edge
(:func:`relational_mask`). Graph nodes are taken in ``sorted`` order.

Node-to-neuron assignment (as graph2nn's ``compute_size``): a width ``w`` gives every node
``⌊w/n⌋`` neurons and ``w mod n`` of them one more; which nodes get the extra neuron is a
seeded random permutation (graph2nn: NumPy's legacy ``RandomState(1)``; here
``numpy.random.default_rng(seed)``, seed 1 by default — the same rule, a different draw), and
neurons are contiguous per node. A layer narrower than ``n`` is an error (graph2nn silently
uses fewer nodes).

Recurrent layers stack their gates (GRU r, z, n; LSTM i, f, g, o): each gate's block of
``weight_ih`` and ``weight_hh`` gets the same graph mask (:func:`gate_mask`).

Width matching (:func:`match_width`): multiply-adds are counted as live mask entries of every
weight matrix (a dense layer counts ``in · out``; biases, normalisation and activations are
not counted — graph2nn's ``flops_count``). Given a graph, the matched width is the smallest
width whose multiply-adds are at least the complete graph's at the base width — graph2nn's
``AUTO_MATCH`` with ``UPPER=True`` ends on that width when it steps up from below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import networkx as nx
import numpy as np
import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn.masking import apply_mask


def node_sizes(width: int, n: int, seed: int = 1) -> np.ndarray:
    """Neurons per node when ``width`` neurons sit on ``n`` nodes (see the module docstring)."""
    if n < 1:
        raise UsageError(f"a relational graph needs at least 1 node, got {n}")
    if width < n:
        raise UsageError(
            f"a layer of width {width} cannot be split over {n} graph nodes; "
            "use a width of at least the number of nodes"
        )
    base, extra = divmod(int(width), n)
    sizes = np.full(n, base, dtype=np.int64)
    sizes[:extra] += 1
    return np.random.default_rng(seed).permutation(sizes)


def adjacency(graph: nx.Graph) -> np.ndarray:
    """``n × n`` 0/1 adjacency of an undirected graph, nodes in sorted order, self-loops added."""
    if graph.is_directed():
        raise UsageError("a relational graph must be undirected (got a directed graph)")
    nodes = sorted(graph.nodes)
    index = {v: i for i, v in enumerate(nodes)}
    A = np.eye(len(nodes), dtype=np.int64)
    for u, v in graph.edges:
        A[index[u], index[v]] = A[index[v], index[u]] = 1
    return A


def relational_mask(
    graph: nx.Graph, in_features: int, out_features: int, seed: int = 1
) -> torch.Tensor:
    """The ``(out_features, in_features)`` 0/1 block mask of ``graph`` (float tensor)."""
    A = adjacency(graph)
    n = len(A)
    rows = node_sizes(out_features, n, seed)
    cols = node_sizes(in_features, n, seed)
    mask = np.repeat(np.repeat(A, rows, axis=0), cols, axis=1)
    return torch.from_numpy(mask).to(torch.get_default_dtype())


def live_entries(graph: nx.Graph | None, in_features: int, out_features: int, seed: int = 1) -> int:
    """Live entries of :func:`relational_mask` without building it (``None``: dense)."""
    if graph is None:
        return int(in_features) * int(out_features)
    A = adjacency(graph)
    n = len(A)
    return int(node_sizes(out_features, n, seed) @ A @ node_sizes(in_features, n, seed))


def gate_mask(
    graph: nx.Graph, in_features: int, hidden: int, gates: int, seed: int = 1
) -> torch.Tensor:
    """``(gates · hidden, in_features)``: the graph mask repeated for every stacked gate."""
    return relational_mask(graph, in_features, hidden, seed).repeat(gates, 1)


def mask_linear(layer: nn.Linear, graph: nx.Graph, seed: int = 1) -> nn.Linear:
    """Mask ``layer.weight`` with ``graph`` (via :func:`hiddenstruct.nn.apply_mask`)."""
    return apply_mask(
        layer, "weight", relational_mask(graph, layer.in_features, layer.out_features, seed)
    )


def mask_ffn(model: nn.Module, graph: nx.Graph, layers: Sequence[int] | None = None, seed: int = 1):
    """Mask the Linear layers ``model.layers[i]`` of a :class:`~hiddenstruct.nn.MaskedDeepFFN`
    (default: the hidden-to-hidden ones, i.e. all but the first and the last) with ``graph``."""
    count = len(model.layers)
    chosen = range(1, count - 1) if layers is None else layers
    if not chosen:
        raise UsageError(
            f"the network has {count} weight layers and no hidden-to-hidden one; "
            "name the layers to mask with layers=[...]"
        )
    for i in chosen:
        if not -count <= i < count:
            raise UsageError(f"layer index {i} out of range for {count} layers")
        mask_linear(model.layers[i], graph, seed)
    return model


def mask_rnn(rnn: nn.Module, graph: nx.Graph, scope: str = "both", seed: int = 1):
    """Mask every layer of a :class:`~hiddenstruct.nn.MaskedRNN` (any mode) with ``graph``:
    ``weight_hh`` (``scope`` h2h), ``weight_ih`` (i2h) or both; every gate gets the same mask."""
    if scope not in ("both", "i2h", "h2h"):
        raise UsageError(f"scope must be both, i2h or h2h, got {scope!r}")
    for layer in rnn.layers:
        gates = layer.spec.gates
        if scope in ("both", "i2h"):
            apply_mask(
                layer,
                "weight_ih",
                gate_mask(graph, layer.input_size, layer.hidden_size, gates, seed),
            )
        if scope in ("both", "h2h"):
            apply_mask(
                layer,
                "weight_hh",
                gate_mask(graph, layer.hidden_size, layer.hidden_size, gates, seed),
            )
    return rnn


def match_width(macs: Callable[[int], int], baseline: int, start: int, limit: int = 1 << 16) -> int:
    """The smallest width ``w >= start`` with ``macs(w) >= baseline``.

    ``start`` must be a width no larger than the answer (the base width: a masked network of
    the base width never costs more than the complete graph's). Scans upward; UsageError past
    ``limit``.
    """
    w = int(start)
    while macs(w) < baseline:
        w += 1
        if w > limit:
            raise UsageError(f"no width up to {limit} reaches {baseline} multiply-adds")
    return w


def mlp_macs(
    graph: nx.Graph | None,
    input_size: int,
    first: int,
    width: int,
    layers: int,
    classes: int,
    seed: int = 1,
) -> int:
    """Multiply-adds of :class:`RelationalMLP` (``graph`` None: the complete graph's)."""
    total = input_size * first + width * classes
    total += live_entries(graph, first, width, seed) if graph is not None else first * width
    for _ in range(layers - 1):
        total += live_entries(graph, width, width, seed) if graph is not None else width * width
    return total


def rnn_macs(
    graph: nx.Graph | None,
    input_size: int,
    hidden: int,
    layers: int,
    gates: int,
    classes: int,
    seed: int = 1,
) -> int:
    """Multiply-adds per time step of a masked recurrent stack (both scopes) plus its readout."""
    total, previous = hidden * classes, input_size
    for _ in range(layers):
        total += gates * (
            live_entries(graph, previous, hidden, seed) + live_entries(graph, hidden, hidden, seed)
        )
        previous = hidden
    return total


class RelationalMLP(nn.Module):
    """graph2nn's MLP: a dense stem ``input → first`` (no bias, BatchNorm, ReLU), ``layers``
    relational layers ``→ width`` (masked Linear without bias, BatchNorm, ReLU), and a dense
    head ``width → classes`` (with bias). With ``graph=None`` every layer is dense (the
    complete graph). The masked weights are ``layers[i].weight``."""

    def __init__(
        self,
        input_size: int,
        classes: int,
        graph: nx.Graph | None,
        first: int,
        width: int,
        layers: int = 3,
        seed: int = 1,
    ) -> None:
        super().__init__()
        if layers < 1:
            raise UsageError(f"a relational MLP needs at least 1 relational layer, got {layers}")
        self.stem = nn.Sequential(
            nn.Linear(input_size, first, bias=False), nn.BatchNorm1d(first), nn.ReLU()
        )
        sizes = [first] + [width] * layers
        self.layers = nn.ModuleList(
            nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(layers))
        self.head = nn.Linear(width, classes)
        for layer in self.layers:
            if graph is None:
                apply_mask(layer, "weight", torch.ones_like(layer.weight))
            else:
                mask_linear(layer, graph, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x.reshape(x.shape[0], -1))
        for layer, norm in zip(self.layers, self.norms, strict=True):
            x = torch.relu(norm(layer(x)))
        return self.head(x)

    def macs(self) -> int:
        """Live entries of every weight matrix (the multiply-adds per sample)."""
        total = self.stem[0].weight.numel() + self.head.weight.numel()
        return total + sum(
            int((layer.parametrizations.weight[0].mask != 0).sum()) for layer in self.layers
        )
