"""Skip-layer networks built from a DAG: one neuron per vertex, one weight per edge.

``GraphNet(G, input_size, output_size)`` implements the paper's skip-layer network (§2;
docs/models.md): undirected graphs are oriented with :func:`hiddenstruct.graphs.to_dag`,
vertices are grouped by layer index (layer 0 = sources), the input feeds every layer-0 vertex
densely, each edge ``(u, v)`` is a single weight, and a linear readout reads the last layer
(or every sink). For ``l ≥ 1``::

    z_v = b_v + Σ_{(u, v) ∈ E} w_uv · a_u,    a_v = σ(z_v)

Parameters (exactly ``E + input·|layer 0| + output·|readout| + N + output`` numbers):

* ``input_layer.weight`` ``[|layer 0|, input]`` (masked), no bias of its own;
* ``edges.weight`` ``[E]`` — the flat edge weights (masked), ordered as ``edge_list()``;
* ``bias`` ``[N]`` — one bias per vertex, in ``vertices`` order;
* ``readout.weight`` ``[output, |readout|]`` (masked) and ``readout.bias``.

All masks are all-ones at construction; pruning code sees three masked ``weight`` tensors.
Compute follows the edges: per layer, gather source activations by edge index, scale,
``index_add`` into the layer — a fused autograd function with a hand-written backward
keeps memory at O(N·B + E) (``engine="autograd"`` is a plain-autograd reference that also
supports double backward, e.g. for exact Hessian diagonals).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch
from torch import nn

from hiddenstruct.errors import GraphError, UsageError, check_choice, unknown_name
from hiddenstruct.graphs.dag import to_dag
from hiddenstruct.nn.activations import get_activation
from hiddenstruct.nn.ffn import _check_positive, feature_count
from hiddenstruct.nn.masking import apply_mask

READOUTS = ("last_layer", "sinks")
ENGINES = ("fused", "autograd")


@dataclass(frozen=True)
class GraphPlan:
    """Vertex order, layer boundaries and edge arrays of a layered DAG (no tensors)."""

    vertices: tuple[Hashable, ...]  # sorted by (layer, node order)
    layer_ptr: tuple[int, ...]  # vertices of layer l are vertices[layer_ptr[l]:layer_ptr[l+1]]
    edge_ptr: tuple[int, ...]  # edges into layer l are edges[edge_ptr[l]:edge_ptr[l+1]]
    src: np.ndarray  # source vertex position per edge, edges sorted by (target, source)
    dst: np.ndarray  # target vertex position per edge
    readout: np.ndarray  # positions of the readout vertices

    @property
    def num_layers(self) -> int:
        return len(self.layer_ptr) - 1


def plan_graph(
    graph: nx.Graph,
    readout: str | Sequence[Hashable] = "last_layer",
    order: Sequence[Hashable] | None = None,
    seed: int | None = None,
) -> GraphPlan:
    """Validate and lay out ``graph``; raises :class:`GraphError` for unusable graphs."""
    if not isinstance(graph, nx.Graph):
        raise GraphError(f"GraphNet needs a networkx graph, got {type(graph).__name__}")
    D = to_dag(graph, order=order, seed=seed)
    nodes = list(D.nodes)
    position = {v: i for i, v in enumerate(nodes)}
    layer = np.zeros(len(nodes), dtype=np.int64)
    for v in nx.topological_sort(D):
        preds = [layer[position[s]] for s in D.predecessors(v)]
        layer[position[v]] = max(preds) + 1 if preds else 0
    perm = np.lexsort((np.arange(len(nodes)), layer))  # by layer, then node order
    new_pos = np.empty(len(nodes), dtype=np.int64)
    new_pos[perm] = np.arange(len(nodes))
    vertices = tuple(nodes[i] for i in perm)
    sorted_layers = layer[perm]
    num_layers = int(sorted_layers[-1]) + 1
    layer_ptr = np.searchsorted(sorted_layers, np.arange(num_layers + 1), side="left")
    E = D.number_of_edges()
    src = np.fromiter((position[u] for u, _ in D.edges), dtype=np.int64, count=E)
    dst = np.fromiter((position[v] for _, v in D.edges), dtype=np.int64, count=E)
    src, dst = new_pos[src], new_pos[dst]
    edge_perm = np.lexsort((src, dst))
    src, dst = src[edge_perm], dst[edge_perm]
    edge_ptr = np.searchsorted(dst, layer_ptr, side="left")
    readout_pos = _readout_positions(D, readout, new_pos, position, layer_ptr)
    return GraphPlan(
        vertices=vertices,
        layer_ptr=tuple(int(p) for p in layer_ptr),
        edge_ptr=tuple(int(p) for p in edge_ptr),
        src=src,
        dst=dst,
        readout=readout_pos,
    )


def _readout_positions(D, readout, new_pos, position, layer_ptr) -> np.ndarray:
    if isinstance(readout, str):
        if readout == "last_layer":
            return np.arange(layer_ptr[-2], layer_ptr[-1], dtype=np.int64)
        if readout == "sinks":
            sinks = [new_pos[position[v]] for v in D.nodes if D.out_degree(v) == 0]
            return np.sort(np.asarray(sinks, dtype=np.int64))
        raise UsageError(unknown_name("readout", readout, READOUTS, "or a list of vertices"))
    chosen = list(readout)
    missing = [v for v in chosen if v not in position]
    if missing:
        raise GraphError(f"readout vertices not in the graph: {missing[:5]!r}")
    if not chosen or len(set(chosen)) != len(chosen):
        raise GraphError("readout must list at least one vertex, each once")
    return np.asarray([new_pos[position[v]] for v in chosen], dtype=np.int64)


class EdgeWeights(nn.Module):
    """Holds the flat edge-weight vector ``weight`` ``[E]`` (a module so it can be masked)."""

    def __init__(self, num_edges: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_edges))

    def extra_repr(self) -> str:
        return f"num_edges={self.weight.numel()}"


class GraphNet(nn.Module):
    """Network whose hidden neurons and connections are a DAG's vertices and edges."""

    def __init__(
        self,
        graph: nx.Graph,
        input_size: int | Sequence[int],
        output_size: int,
        readout: str | Sequence[Hashable] = "last_layer",
        activation: str = "relu",
        *,
        order: Sequence[Hashable] | None = None,
        seed: int | None = None,
        engine: str = "fused",
    ) -> None:
        super().__init__()
        self.input_features, self.input_shape = feature_count(input_size)
        self.output_size = _check_positive(output_size, "output_size")
        get_activation(activation)
        check_choice(engine, ENGINES, "engine")
        plan = plan_graph(graph, readout, order, seed)  # all graph errors before any tensor
        self.activation, self.engine = activation, engine
        self.readout_mode = readout if isinstance(readout, str) else "vertices"
        self.vertices = plan.vertices
        self.vertex_index = {v: i for i, v in enumerate(plan.vertices)}
        self.layer_ptr, self.edge_ptr = plan.layer_ptr, plan.edge_ptr
        n0, N, E = plan.layer_ptr[1], len(plan.vertices), len(plan.src)
        src = torch.from_numpy(plan.src)
        dst = torch.from_numpy(plan.dst)
        layer_of = torch.from_numpy(np.repeat(np.arange(plan.num_layers), np.diff(plan.layer_ptr)))
        start = torch.tensor(plan.layer_ptr[:-1], dtype=torch.long)
        self.register_buffer("edge_src", src, persistent=False)
        self.register_buffer("edge_dst", dst, persistent=False)
        self.register_buffer("edge_dst_local", dst - start[layer_of[dst]], persistent=False)
        self.register_buffer("readout_index", torch.from_numpy(plan.readout), persistent=False)
        self.input_layer = nn.Linear(self.input_features, n0, bias=False)
        self.edges = EdgeWeights(E)
        self.bias = nn.Parameter(torch.empty(N))
        self.readout = nn.Linear(len(plan.readout), self.output_size)
        self._init_structural(N, n0)
        for module in (self.input_layer, self.edges, self.readout):
            apply_mask(module, "weight", torch.ones_like(module.weight))

    def _init_structural(self, N: int, n0: int) -> None:
        """nn.Linear-style init: U(±1/√fan_in) with fan_in the in-degree (input for layer 0)."""
        fan_in = torch.bincount(self.edge_dst, minlength=N).to(torch.get_default_dtype())
        fan_in[:n0] = self.input_features
        bound = fan_in.clamp(min=1).rsqrt()
        with torch.no_grad():
            self.bias.copy_((torch.rand(N) * 2 - 1) * bound)
            w_bound = bound[self.edge_dst]
            self.edges.weight.copy_((torch.rand(len(w_bound)) * 2 - 1) * w_bound)

    @property
    def num_layers(self) -> int:
        """Number of layers of the layered DAG."""
        return len(self.layer_ptr) - 1

    def edge_list(self) -> list[tuple[Hashable, Hashable]]:
        """Edges ``(u, v)`` as labels, in the order of ``edges.weight``."""
        V = self.vertices
        return [
            (V[s], V[d])
            for s, d in zip(self.edge_src.tolist(), self.edge_dst.tolist(), strict=True)
        ]

    def layers(self) -> list[list[Hashable]]:
        """Vertex labels grouped by layer index."""
        p = self.layer_ptr
        return [list(self.vertices[p[i] : p[i + 1]]) for i in range(self.num_layers)]

    def hidden_activations(self, x: torch.Tensor) -> torch.Tensor:
        """Activations of all vertices, ``[N, B]`` in ``vertices`` order."""
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.input_features:
            raise UsageError(
                f"expected {self.input_features} input features per sample, got {x.shape[1]}"
            )
        n0 = self.layer_ptr[1]
        z0 = (self.input_layer(x) + self.bias[:n0]).t()
        if self.engine == "fused":
            return _Propagate.apply(z0, self.edges.weight, self.bias[n0:], self)
        return _propagate_autograd(z0, self.edges.weight, self.bias[n0:], self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch ``x`` of shape ``[B, *input_shape]``."""
        H = self.hidden_activations(x)
        return self.readout(H.index_select(0, self.readout_index).t())

    def structure_graph(self, include_io: bool = True) -> nx.DiGraph:
        """DiGraph of the live edges (mask · weight ≠ 0) with node attribute ``layer``.

        Every vertex is kept (even if all its edges are pruned). With ``include_io`` the
        inputs ``("in", i)`` (layer −1) and outputs ``("out", j)`` (layer = num_layers) are
        added with their live input / readout connections; ``role`` tells them apart.
        """
        G = nx.DiGraph()
        V, p = self.vertices, self.layer_ptr
        for layer in range(self.num_layers):
            G.add_nodes_from(
                (v, {"layer": layer, "role": "hidden"}) for v in V[p[layer] : p[layer + 1]]
            )
        live = (self.edges.weight.detach() != 0).cpu()
        src = self.edge_src.cpu()[live].tolist()
        dst = self.edge_dst.cpu()[live].tolist()
        G.add_edges_from((V[s], V[d]) for s, d in zip(src, dst, strict=True))
        if include_io:
            self._add_io(G)
        return G

    def _add_io(self, G: nx.DiGraph) -> None:
        inputs = [("in", i) for i in range(self.input_features)]
        outputs = [("out", j) for j in range(self.output_size)]
        clash = [v for v in inputs + outputs if v in G]
        if clash:
            raise GraphError(f"vertex label {clash[0]!r} collides with an input/output node label")
        G.add_nodes_from((v, {"layer": -1, "role": "input"}) for v in inputs)
        G.add_nodes_from((v, {"layer": self.num_layers, "role": "output"}) for v in outputs)
        rows, cols = torch.nonzero(self.input_layer.weight.detach().cpu(), as_tuple=True)
        G.add_edges_from(
            (inputs[c], self.vertices[r]) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
        )
        ridx = self.readout_index.cpu().tolist()
        rows, cols = torch.nonzero(self.readout.weight.detach().cpu(), as_tuple=True)
        G.add_edges_from(
            (self.vertices[ridx[c]], outputs[r])
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
        )

    def extra_repr(self) -> str:
        return (
            f"vertices={len(self.vertices)}, edges={self.edges.weight.numel()}, layers={self.num_layers}, "
            f"readout={self.readout_mode!r}, activation={self.activation!r}, engine={self.engine!r}"
        )


def _propagate_autograd(z0T, weight, bias_rest, net: GraphNet) -> torch.Tensor:
    """Reference propagation with plain autograd (concatenates activations layer by layer)."""
    act = get_activation(net.activation).fn
    p, q, n0 = net.layer_ptr, net.edge_ptr, net.layer_ptr[1]
    H = act(z0T)
    for layer in range(1, len(p) - 1):
        v0, v1, e0, e1 = p[layer], p[layer + 1], q[layer], q[layer + 1]
        msgs = H.index_select(0, net.edge_src[e0:e1]) * weight[e0:e1, None]
        z = bias_rest[v0 - n0 : v1 - n0, None].expand(v1 - v0, H.shape[1])
        z = z.index_add(0, net.edge_dst_local[e0:e1], msgs)
        H = torch.cat([H, act(z)], dim=0)
    return H


class _Propagate(torch.autograd.Function):
    """Layer-by-layer edge propagation with a hand-written backward (O(N·B + E) memory).

    Written for few kernel launches per layer (the loop runs once per DAG layer): every
    layer's activations are computed in place in their rows of ``H``.
    """

    @staticmethod
    def forward(ctx, z0T, weight, bias_rest, net: GraphNet):
        act = get_activation(net.activation)
        p, q, n0 = net.layer_ptr, net.edge_ptr, net.layer_ptr[1]
        src, dst_local = net.edge_src, net.edge_dst_local
        B = z0T.shape[1]
        H = z0T.new_empty(p[-1], B)
        act.inplace(H[:n0].copy_(z0T))
        for layer in range(1, len(p) - 1):
            v0, v1, e0, e1 = p[layer], p[layer + 1], q[layer], q[layer + 1]
            z = H[v0:v1]
            z.copy_(bias_rest[v0 - n0 : v1 - n0, None].expand(v1 - v0, B))
            msgs = H.index_select(0, src[e0:e1]).mul_(weight[e0:e1, None])
            act.inplace(z.index_add_(0, dst_local[e0:e1], msgs))
        ctx.save_for_backward(H, weight)
        ctx.net = net
        return H

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_H):
        H, weight = ctx.saved_tensors
        net = ctx.net
        dact = get_activation(net.activation).grad_from_output
        p, q, n0 = net.layer_ptr, net.edge_ptr, net.layer_ptr[1]
        src, dst_local = net.edge_src, net.edge_dst_local
        G = grad_H.clone()  # accumulates dLoss/dH, turned into dLoss/dz layer by layer
        grad_w = torch.empty_like(weight)
        grad_b = H.new_empty(p[-1] - n0)
        for layer in range(len(p) - 2, 0, -1):
            v0, v1, e0, e1 = p[layer], p[layer + 1], q[layer], q[layer + 1]
            gz = G[v0:v1].mul_(dact(H[v0:v1]))
            torch.sum(gz, 1, out=grad_b[v0 - n0 : v1 - n0])
            gz_e = gz.index_select(0, dst_local[e0:e1])
            s = src[e0:e1]
            torch.sum(H.index_select(0, s).mul_(gz_e), 1, out=grad_w[e0:e1])
            G.index_add_(0, s, gz_e.mul_(weight[e0:e1, None]))
        grad_z0 = G[:n0].mul_(dact(H[:n0]))
        return grad_z0, grad_w, grad_b, None


def graphnet_parameter_count(
    num_edges: int, num_vertices: int, layer0: int, readout: int, input_size: int, output_size: int
) -> int:
    """``E + input·|layer 0| + output·|readout| + N + output`` (docs/models.md, "GraphNet")."""
    return num_edges + input_size * layer0 + output_size * readout + num_vertices + output_size


__all__ = ["GraphNet", "GraphPlan", "EdgeWeights", "plan_graph", "graphnet_parameter_count"]
