"""Any ``nn.Module`` as a graph, through ``torch.fx``: ``traced_graph(model, inputs, granularity)``.

Granularities (see docs/traced-graphs.md):

- ``"op"``: one vertex per module call or function (conv, linear, add, cat, pooling, norm,
  activation, attention…) named by its fx node (``layer1_0_conv1``, ``add_3``), plus the
  inputs and the output; an edge wherever a tensor flows. Residual additions and
  concatenations are vertices of their own. Needs no example input (with one, vertices
  also carry their output ``shape`` (``"1x6x28x28"``) and nodes that only read shapes are left out).
- ``"neuron"``: every neuron a vertex, every live weight an edge (convolutions unrolled),
  weightless *structural* edges through pooling and residual additions; built by
  :class:`~hiddenstruct.graphs.traced_neurons.NeuronTracer` (the rules are listed there).
- ``"channel"``: one vertex per channel, an edge where any live kernel entry connects two
  channels (weight sharing kept, not unrolled).

Vertices carry ``module`` (the qualified module name, or the fx node for a function),
``kind`` (``"Conv2d"``, ``"add"``, ``"input"``…) and ``layer`` (the position of the producing
op in execution order; 0 for the inputs). Neuron/channel vertices are ``(module, index)``
except the inputs ``("in", i)`` (one input) and the outputs ``("out", j)``, as in the models'
``structure_graph``. Edges carry ``kind`` (``"weight"`` or ``"structural"``) and, with
``weights=True``, ``weight``: the weight's value (at channel level the sum of the absolute
values of the kernel entries joining the two channels). ``include`` / ``exclude`` keep / drop
vertices by module type, kind name or module name (at op level an excluded vertex is bridged:
its predecessors are joined to its successors; at neuron/channel level it is dropped with its
edges, since bridging would multiply edges); ``fold`` makes a module type or name one vertex.

Neuron/channel graphs larger than ``max_edges`` (default 2,000,000 — networkx needs roughly
0.5 kB per edge) are refused before they are built.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx
import numpy as np
import torch
from torch import fx, nn

from hiddenstruct.errors import UsageError, check_choice
from hiddenstruct.graphs.fx_trace import node_kind, propagate_shapes, trace_model
from hiddenstruct.graphs.traced_neurons import (
    SHAPE_OPS,
    STRUCTURAL,
    WEIGHT,
    GraphTooLargeError,
    NeuronTracer,
)

GRANULARITIES = ("op", "neuron", "channel")
DEFAULT_MAX_EDGES = 2_000_000

__all__ = ["DEFAULT_MAX_EDGES", "GRANULARITIES", "GraphTooLargeError", "traced_graph"]


def as_inputs(example_inputs) -> tuple[torch.Tensor, ...] | None:
    """A tensor or a tuple/list of tensors as a tuple; None stays None."""
    if example_inputs is None:
        return None
    if isinstance(example_inputs, torch.Tensor):
        return (example_inputs,)
    if isinstance(example_inputs, tuple | list) and all(
        isinstance(x, torch.Tensor) for x in example_inputs
    ):
        return tuple(example_inputs)
    raise UsageError(
        "example_inputs must be a tensor or a tuple of tensors (a batch the model accepts, "
        f"e.g. torch.zeros(1, 1, 28, 28)), got {type(example_inputs).__name__}"
    )


def traced_graph(
    model: nn.Module,
    example_inputs=None,
    *,
    granularity: str = "op",
    include: Iterable | None = None,
    exclude: Iterable | None = None,
    fold: Iterable | None = None,
    weights: bool = False,
    max_edges: int | None = DEFAULT_MAX_EDGES,
) -> nx.DiGraph:
    """The structure of any traceable ``model`` as a DiGraph at ``granularity``."""
    check_choice(granularity, GRANULARITIES, "granularity")
    inputs = as_inputs(example_inputs)
    gm = trace_model(model, fold)
    if granularity == "op":
        graph = _op_graph(gm, inputs)
        return _filter(graph, include, exclude, bridge=True)
    if inputs is None:
        raise UsageError(
            f"granularity={granularity!r} needs example_inputs (a batch the model accepts, "
            "e.g. torch.zeros(1, 1, 28, 28)) to know the tensors' shapes"
        )
    with torch.no_grad():
        tracer = NeuronTracer(
            gm, inputs, channel=granularity == "channel", max_edges=max_edges,
            weights=weights, fold=fold,
        ).run()  # fmt: skip
    graph = neuron_graph(tracer, weights=weights)
    return _filter(graph, include, exclude, bridge=False)


# -- op level ----------------------------------------------------------------------------------
def _op_graph(gm: fx.GraphModule, inputs) -> nx.DiGraph:
    modules = dict(gm.named_modules())
    if inputs is not None:
        propagate_shapes(gm, inputs)

    def is_vertex(node: fx.Node) -> bool:
        if node.op in ("placeholder", "output"):
            return True
        if node.op == "get_attr":
            return False
        if inputs is not None:
            return "tensor_meta" in node.meta
        return node_kind(node, modules) not in SHAPE_OPS

    G = nx.DiGraph()
    sources: dict[str, list[str]] = {}  # node -> the vertices its value comes from
    layer = 0
    for node in gm.graph.nodes:
        upstream = sorted({v for n in node.all_input_nodes for v in sources.get(n.name, [])})
        if not is_vertex(node):
            sources[node.name] = upstream
            continue
        attrs = {"kind": node_kind(node, modules), "op": node.op, "layer": layer}
        attrs["module"] = node.target if node.op == "call_module" else node.name
        meta = node.meta.get("tensor_meta")
        if meta is not None and hasattr(meta, "shape"):
            attrs["shape"] = "x".join(map(str, meta.shape))  # a string: GraphML-safe
        G.add_node(node.name, **attrs)
        G.add_edges_from((u, node.name) for u in upstream)
        sources[node.name] = [node.name]
        layer += 1
    return G


def _class_names(cls: type) -> set[str]:
    names = {cls.__name__}
    for sub in cls.__subclasses__():
        names |= _class_names(sub)
    return names


def _matches(data: dict, items: list) -> bool:
    """Does a vertex match one of ``items`` (module types, kind or module names, functions)?"""
    for item in items:
        if isinstance(item, str):
            found = item in (data.get("kind"), data.get("module"))
        elif isinstance(item, type):
            found = data.get("kind") in _class_names(item)
        else:
            found = getattr(item, "__name__", None) == data.get("kind")
        if found:
            return True
    return False


def _filter(G: nx.DiGraph, include, exclude, *, bridge: bool) -> nx.DiGraph:
    include, exclude = list(include or ()), list(exclude or ())
    if not include and not exclude:
        return G
    protected = {"input", "output"}
    drop = []
    for v, data in G.nodes(data=True):
        if data.get("kind") in protected or (isinstance(v, tuple) and v[0] in ("in", "out")):
            continue
        if (include and not _matches(data, include)) or _matches(data, exclude):
            drop.append(v)
    for v in drop:
        if bridge:
            G.add_edges_from((u, w) for u in G.predecessors(v) for w in G.successors(v))
        G.remove_node(v)
    return G


# -- neuron / channel level ------------------------------------------------------------------
def vertex_labels(tracer: NeuronTracer) -> np.ndarray:
    """Label of every vertex number: ``(module, index)``, ``("in", i)``, ``("out", j)``."""
    labels = np.empty(tracer.vertices, dtype=object)
    single_input = len(tracer.inputs) == 1
    for group in tracer.groups:
        name = "in" if group.kind == "input" and single_input else group.module
        labels[group.start : group.start + group.count] = [(name, k) for k in range(group.count)]
    if tracer.outputs:
        outs = np.concatenate([o.reshape(-1).numpy() for o in tracer.outputs])
        _, first = np.unique(outs, return_index=True)
        for j, vertex in enumerate(outs[np.sort(first)]):
            labels[vertex] = ("out", j)
    return labels


def unique_edges(tracer: NeuronTracer, kinds=(WEIGHT, STRUCTURAL)):
    """(src, dst, kind, value) with one row per vertex pair (the first one recorded)."""
    src, dst, kind, _param, _index, value = tracer.edge_arrays()
    keep = np.isin(kind, kinds)
    src, dst, kind, value = src[keep], dst[keep], kind[keep], value[keep]
    key = src * max(tracer.vertices, 1) + dst
    _, first = np.unique(key, return_index=True)
    return src[first], dst[first], kind[first], value[first]


def neuron_graph(tracer: NeuronTracer, *, weights: bool = False) -> nx.DiGraph:
    """networkx DiGraph of a finished :class:`NeuronTracer` walk (built in bulk)."""
    labels = vertex_labels(tracer)
    G = nx.DiGraph()
    for group in tracer.groups:
        G.add_nodes_from(
            labels[group.start : group.start + group.count].tolist(),
            module=group.module, kind=group.kind, layer=group.layer,
        )  # fmt: skip
    src, dst, kind, value = unique_edges(tracer)
    for code, name in ((WEIGHT, "weight"), (STRUCTURAL, "structural")):
        sel = kind == code
        us, vs = labels[src[sel]].tolist(), labels[dst[sel]].tolist()
        if weights and code == WEIGHT:
            G.add_edges_from(
                (u, v, {"kind": name, "weight": w})
                for u, v, w in zip(us, vs, value[sel].tolist(), strict=True)
            )
        else:
            G.add_edges_from(zip(us, vs, strict=True), kind=name)
    return G
