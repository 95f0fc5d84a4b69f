"""Genotypes: immutable, validated, labelled DAGs with one input and one output vertex.

Vertices are numbered ``0 .. n-1``; each carries an operation (:mod:`hiddenstruct.nas.ops`)
and, for convolutions, a positive channel count. A genotype is valid when it is acyclic, has
exactly one source (labelled ``input``) and one sink (labelled ``output``) — which makes every
vertex lie on an input→output path — uses only known operations and positive channel counts.
Invalid data raises :class:`~hiddenstruct.errors.GraphError` naming the vertex or edge.

Depth is the number of layers, i.e. the number of vertices on the longest input→output
path, input and output included (a chain ``input → conv → output`` has depth 3).

Example::

    g = Genotype.chain(["conv3x3", "max_pool"], channels=16)
    Genotype.from_json(g.to_json()) == g   # True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx

from hiddenstruct.errors import GraphError, unknown_name
from hiddenstruct.nas.ops import OPS, op_spec


@dataclass(frozen=True)
class Vertex:
    """One labelled vertex: an operation name and (for convolutions) its channel count."""

    op: str
    channels: int | None = None

    def label(self) -> str:
        """Short text such as ``conv3x3(16)`` or ``max_pool``."""
        return f"{self.op}({self.channels})" if self.channels is not None else self.op


@dataclass(frozen=True)
class Genotype:
    """An immutable labelled DAG; constructing one validates it (raises GraphError)."""

    vertices: tuple[Vertex, ...]
    edges: tuple[tuple[int, int], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "vertices", tuple(self.vertices))
        edges = tuple(sorted({(int(u), int(v)) for u, v in self.edges}))
        object.__setattr__(self, "edges", edges)
        _validate(self.vertices, self.edges)

    # ----------------------------------------------------------------- structure
    @cached_property
    def predecessors(self) -> tuple[tuple[int, ...], ...]:
        """Sorted predecessors of every vertex."""
        return _sorted_neighbours(len(self.vertices), ((v, u) for u, v in self.edges))

    @cached_property
    def successors(self) -> tuple[tuple[int, ...], ...]:
        """Sorted successors of every vertex."""
        return _sorted_neighbours(len(self.vertices), self.edges)

    @cached_property
    def topological_order(self) -> tuple[int, ...]:
        """Vertices in a deterministic topological order (smallest id first among ready ones)."""
        return tuple(nx.lexicographical_topological_sort(self.to_networkx()))

    @property
    def input(self) -> int:
        """Index of the input (unique source) vertex."""
        return next(i for i, v in enumerate(self.vertices) if v.op == "input")

    @property
    def output(self) -> int:
        """Index of the output (unique sink) vertex."""
        return next(i for i, v in enumerate(self.vertices) if v.op == "output")

    @property
    def interior(self) -> tuple[int, ...]:
        """Indices of all vertices except the input and output."""
        return tuple(i for i, v in enumerate(self.vertices) if v.op not in ("input", "output"))

    @cached_property
    def layer_index(self) -> tuple[int, ...]:
        """ind(v) = longest path length (edges) from the input; the input is layer 0."""
        index = [0] * len(self.vertices)
        for v in self.topological_order:
            index[v] = max((index[u] + 1 for u in self.predecessors[v]), default=0)
        return tuple(index)

    @property
    def depth(self) -> int:
        """Number of layers = vertices on the longest input→output path (input, output included)."""
        return self.layer_index[self.output] + 1

    def to_networkx(self) -> nx.DiGraph:
        """A DiGraph with ``op`` and ``channels`` node attributes."""
        G = nx.DiGraph()
        for i, vertex in enumerate(self.vertices):
            G.add_node(i, op=vertex.op, channels=vertex.channels)
        G.add_edges_from(self.edges)
        return G

    # ------------------------------------------------------------- construction
    @classmethod
    def chain(cls, ops: Sequence[str], channels: int | Sequence[int] = 16) -> Genotype:
        """``input → ops[0] → … → ops[-1] → output``; convs get ``channels`` (one or per op)."""
        per_op = [channels] * len(ops) if isinstance(channels, int) else list(channels)
        if len(per_op) != len(ops):
            raise GraphError(f"chain: {len(ops)} ops but {len(per_op)} channel counts")
        middle = [
            Vertex(op, c if op_spec(op).has_channels else None)
            for op, c in zip(ops, per_op, strict=True)
        ]
        vertices = [Vertex("input"), *middle, Vertex("output")]
        return cls(tuple(vertices), tuple((i, i + 1) for i in range(len(vertices) - 1)))

    @classmethod
    def from_parts(cls, vertices: Sequence[Vertex], edges: Iterable[tuple[int, int]]) -> Genotype:
        """A genotype renumbered so that ids follow a deterministic topological order."""
        G = nx.DiGraph()
        G.add_nodes_from(range(len(vertices)))
        G.add_edges_from(edges)
        if not nx.is_directed_acyclic_graph(G):
            return cls(tuple(vertices), tuple(G.edges))  # let validation name the cycle
        order = list(nx.lexicographical_topological_sort(G))
        new = {old: new for new, old in enumerate(order)}
        return cls(
            tuple(vertices[old] for old in order), tuple((new[u], new[v]) for u, v in G.edges)
        )

    # ---------------------------------------------------------- serialisation
    def to_dict(self) -> dict:
        """Plain JSON-ready data: ``{"vertices": [{"id", "op", ["channels"]}], "edges": [[u, v]]}``."""
        vertices = []
        for i, vertex in enumerate(self.vertices):
            item: dict = {"id": i, "op": vertex.op}
            if vertex.channels is not None:
                item["channels"] = vertex.channels
            vertices.append(item)
        return {"vertices": vertices, "edges": [list(e) for e in self.edges]}

    @classmethod
    def from_dict(cls, data: dict) -> Genotype:
        """Inverse of :meth:`to_dict`; malformed data raises GraphError naming the problem."""
        if not isinstance(data, dict) or "vertices" not in data or "edges" not in data:
            raise GraphError('a genotype must be an object with "vertices" and "edges" lists')
        raw_vertices, raw_edges = data["vertices"], data["edges"]
        if not isinstance(raw_vertices, list) or not isinstance(raw_edges, list):
            raise GraphError('"vertices" and "edges" must be lists')
        vertices = []
        for position, item in enumerate(raw_vertices):
            if not isinstance(item, dict) or "op" not in item:
                raise GraphError(
                    f'vertex {position}: expected an object with an "op" field, got {item!r}'
                )
            if item.get("id", position) != position:
                raise GraphError(
                    f"vertex at position {position} has id {item['id']!r}; ids must be 0..n-1 in order"
                )
            channels = item.get("channels")
            if channels is not None and (
                isinstance(channels, bool) or not isinstance(channels, int)
            ):
                raise GraphError(
                    f"vertex {position} ({item['op']}): channels must be a positive integer, got {channels!r}"
                )
            vertices.append(Vertex(item["op"], channels))
        edges = []
        for item in raw_edges:
            if not (
                isinstance(item, (list, tuple))
                and len(item) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in item)
            ):
                raise GraphError(f"edge {item!r}: expected a pair of vertex ids [u, v]")
            edges.append((item[0], item[1]))
        return cls(tuple(vertices), tuple(edges))

    def to_json(self, indent: int | None = None) -> str:
        """Canonical JSON (sorted keys, sorted edges)."""
        return json.dumps(
            self.to_dict(), sort_keys=True, indent=indent, separators=None if indent else (",", ":")
        )

    @classmethod
    def from_json(cls, text: str) -> Genotype:
        """Parse and validate JSON text (GraphError on bad JSON or an invalid genotype)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise GraphError(f"genotype JSON is not valid JSON: {err}") from None
        return cls.from_dict(data)

    @cached_property
    def hash(self) -> str:
        """Stable identity: sha256 hex digest of the canonical JSON."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    # --------------------------------------------------------------- rendering
    def render_text(self) -> str:
        """One line per vertex in topological order: ``id: label <- predecessors``."""
        lines = []
        for v in self.topological_order:
            preds = ", ".join(str(u) for u in self.predecessors[v])
            lines.append(f"{v}: {self.vertices[v].label()}" + (f" <- {preds}" if preds else ""))
        return "\n".join(lines)

    def to_dot(self, name: str = "genotype") -> str:
        """Graphviz DOT text (written by hand; graphviz is not needed to produce it)."""
        lines = [f"digraph {name} {{", "  rankdir=TB;"]
        for i, vertex in enumerate(self.vertices):
            lines.append(f'  v{i} [label="{i}: {vertex.label()}"];')
        lines += [f"  v{u} -> v{v};" for u, v in self.edges]
        lines.append("}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render_text()


def _sorted_neighbours(n: int, pairs: Iterable[tuple[int, int]]) -> tuple[tuple[int, ...], ...]:
    """For each of ``n`` vertices, the sorted ``b`` of the pairs ``(a, b)`` it is ``a`` of."""
    found: list[list[int]] = [[] for _ in range(n)]
    for a, b in pairs:
        found[a].append(b)
    return tuple(tuple(sorted(f)) for f in found)


def _validate(vertices: tuple[Vertex, ...], edges: tuple[tuple[int, int], ...]) -> None:
    n = len(vertices)
    if n < 2:
        raise GraphError(
            f"a genotype needs at least an input and an output vertex, got {n} vertices"
        )
    for i, vertex in enumerate(vertices):
        if not isinstance(vertex, Vertex):
            raise GraphError(f"vertex {i}: expected a Vertex, got {type(vertex).__name__}")
        if vertex.op not in OPS:
            raise GraphError(f"vertex {i}: {unknown_name('operation', vertex.op, OPS)}")
        spec = OPS[vertex.op]
        if spec.has_channels:
            if (
                isinstance(vertex.channels, bool)
                or not isinstance(vertex.channels, int)
                or vertex.channels <= 0
            ):
                raise GraphError(
                    f"vertex {i} ({vertex.op}): channels must be a positive integer, got {vertex.channels!r}"
                )
        elif vertex.channels is not None:
            raise GraphError(
                f"vertex {i} ({vertex.op}): this operation takes no channel count, got {vertex.channels!r}"
            )
    for u, v in edges:
        if not (0 <= u < n and 0 <= v < n):
            raise GraphError(
                f"edge ({u}, {v}) refers to a vertex that does not exist (vertices are 0..{n - 1})"
            )
        if u == v:
            raise GraphError(f"edge ({u}, {v}) is a self-loop on vertex {u}")
    G = nx.DiGraph()
    G.add_nodes_from(range(n))
    G.add_edges_from(edges)
    if not nx.is_directed_acyclic_graph(G):
        cycle = nx.find_cycle(G)
        path = " -> ".join(str(u) for u, _ in cycle) + f" -> {cycle[0][0]}"
        raise GraphError(f"the genotype has a cycle: {path}")
    for label, special in (("input", "input"), ("output", "output")):
        found = [i for i, vertex in enumerate(vertices) if vertex.op == special]
        if len(found) != 1:
            raise GraphError(
                f"a genotype needs exactly one {label} vertex, found {len(found)} ({found})"
            )
    for i, vertex in enumerate(vertices):
        if G.in_degree(i) == 0 and vertex.op != "input":
            raise GraphError(
                f"vertex {i} ({vertex.op}) is dangling: it has no incoming edge, so it is not on a path "
                "from the input; connect it or remove it"
            )
        if G.out_degree(i) == 0 and vertex.op != "output":
            raise GraphError(
                f"vertex {i} ({vertex.op}) is dangling: it has no outgoing edge, so it is not on a path "
                "to the output; connect it or remove it"
            )
        if vertex.op == "input" and G.in_degree(i):
            raise GraphError(
                f"vertex {i} (input) has incoming edges, e.g. {next(iter(G.predecessors(i)))} -> {i}"
            )
        if vertex.op == "output" and G.out_degree(i):
            raise GraphError(
                f"vertex {i} (output) has outgoing edges, e.g. {i} -> {next(iter(G.successors(i)))}"
            )
