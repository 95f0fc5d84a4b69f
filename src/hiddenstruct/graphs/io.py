"""Read and write graphs: edge list, GraphML and node-link JSON, chosen by file suffix.

* ``.txt`` / ``.edges`` / ``.edgelist``: one ``u v`` per line, a lone ``u`` is an isolated
  vertex, ``#`` starts a comment; labels that look like integers are parsed as ``int``.
  Only simple graphs with ``int`` or ``str`` labels that read back as themselves are written
  (``'007'``, ``0.5`` or ``True`` would come back as ``7``, ``'0.5'``, ``'True'``: a
  :class:`GraphError` says so and suggests ``.json``); the same holds for GraphML.
  The file's first line ``# directed`` (written by :func:`write_graph` for DiGraphs) makes
  the graph directed; otherwise it is undirected unless ``directed=True`` is given.
  networkx's own ``write_edgelist`` / ``write_weighted_edgelist`` output is read too: edge
  data after ``u v`` as a dict literal (``0 1 {}``, ``0 1 {'weight': 0.5}``, parsed with
  :func:`ast.literal_eval`, never evaluated) or one number (``0 1 0.5``, the weight). An edge
  listed twice is kept once and counted in ``G.graph["merged_duplicate_edges"]``.
* ``.graphml``: networkx GraphML (attributes kept).
* ``.json``: networkx node-link JSON (attributes kept; tuple labels come back as lists
  turned into tuples).

Errors name the file (and line for edge lists). Writes go to a temporary file that is
renamed, so a failed write never leaves a half-written file.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path

import networkx as nx

from hiddenstruct.errors import GraphError
from hiddenstruct.outputs import write_with

EDGE_LIST_SUFFIXES = (".txt", ".edges", ".edgelist")
DIRECTED_MARK = "# directed"


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in EDGE_LIST_SUFFIXES:
        return ".edgelist"
    if suffix in (".graphml", ".json"):
        return suffix
    valid = ", ".join((*EDGE_LIST_SUFFIXES, ".graphml", ".json"))
    raise GraphError(f"{path}: unknown graph file type {path.suffix!r}; use one of {valid}")


def _parse_label(token: str):
    try:
        return int(token)
    except ValueError:
        return token


def _edge_data(path: Path, number: int, raw: str, rest: str) -> dict:
    """The data after ``u v`` on an edge-list line, as networkx's ``write_edgelist`` writes it:
    a dict literal (``{}``, ``{'weight': 0.5}``, read with :func:`ast.literal_eval`, never
    evaluated) or one number (``write_weighted_edgelist``: the weight)."""
    if rest.startswith("{"):
        try:
            data = ast.literal_eval(rest)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            data = None
        if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
            raise GraphError(
                f"{path}:{number}: edge data {rest[:60]!r} is not a dict literal with string "
                "keys (as networkx's write_edgelist writes it, e.g. {'weight': 0.5})"
            )
        return data
    try:
        weight = float(rest)
    except ValueError:
        raise GraphError(
            f"{path}:{number}: expected 'u v', 'u v WEIGHT', 'u v {{...}}' or a lone vertex "
            f"'u', got {raw.strip()[:80]!r}"
        ) from None
    if not math.isfinite(weight):
        raise GraphError(f"{path}:{number}: edge weight {rest!r} is not a finite number")
    return {"weight": weight}


def _read_text(path: Path, kind: str) -> str:
    """The UTF-8 text of graph file ``path``; a one-line GraphError (saying it is not ``kind``
    when it is not UTF-8) otherwise."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GraphError(f"{path}: no such graph file") from None
    except UnicodeDecodeError as exc:
        raise GraphError(f"{path}: not UTF-8 text (byte {exc.start}); not {kind}") from None
    except OSError as exc:
        raise GraphError(f"{path}: cannot read graph file ({exc.strerror or exc})") from None


def read_edge_list(path: str | Path, directed: bool | None = None) -> nx.Graph:
    """Read an edge list (see module doc); ``directed=None`` follows the ``# directed`` mark.

    Lines may carry edge data as networkx writes it (``0 1 {}``, ``0 1 {'weight': 0.5}``,
    ``0 1 0.5``). An edge given twice is kept once (its data merged, the later line wins);
    the count is ``G.graph["merged_duplicate_edges"]`` (absent when there were none).
    """
    path = Path(path)
    lines = _read_text(path, "an edge list").splitlines()
    marked = bool(lines) and lines[0].strip().lower() == DIRECTED_MARK
    G: nx.Graph = nx.DiGraph() if (marked if directed is None else directed) else nx.Graph()
    merged = 0
    for number, raw in enumerate(lines, start=1):
        head, brace, data_text = raw.partition("{")  # '#' inside edge data is no comment
        if "#" in head:
            head, brace, data_text = head.split("#", 1)[0], "", ""
        tokens = head.split()
        if not tokens and not brace:
            continue
        if len(tokens) == 3 and not brace:
            tokens, brace, data_text = tokens[:2], "", tokens[2]
        elif len(tokens) > 2 or (brace and len(tokens) != 2):
            raise GraphError(
                f"{path}:{number}: expected 'u v', 'u v WEIGHT', 'u v {{...}}' or a lone vertex "
                f"'u', got {raw.strip()[:80]!r}"
            )
        if len(tokens) == 1:
            G.add_node(_parse_label(tokens[0]))
            continue
        u, v = _parse_label(tokens[0]), _parse_label(tokens[1])
        rest = (brace + data_text).strip()
        data = _edge_data(path, number, raw, rest) if rest else {}
        merged += G.has_edge(u, v)
        G.add_edge(u, v, **data)
    if merged:
        G.graph["merged_duplicate_edges"] = merged
    return G


def _check_labels_round_trip(G: nx.Graph, kind: str) -> None:
    """Edge lists and GraphML keep only int and str labels that read back as themselves.

    Edge endpoints are checked too: networkx may keep ``True`` in an edge whose vertex is
    ``1`` (equal keys), and the writers print the endpoint as stored.
    """
    endpoints = (v for edge in G.edges() for v in edge[:2])
    for v in itertools.chain(G.nodes, endpoints):
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise GraphError(
                f"vertex label {v!r} ({type(v).__name__}) cannot be written to {kind} "
                "(int or str only); use .json"
            )
        back = _parse_label(str(v))
        if back != v or type(back) is not type(v):
            raise GraphError(
                f"vertex label {v!r} would be read back from {kind} as {back!r}; relabel it "
                "or use .json, which keeps label types"
            )


def _edge_list_text(G: nx.Graph) -> str:
    if G.is_multigraph():
        raise GraphError(
            "an edge list holds a simple graph, not a multigraph (parallel edges would be "
            "merged); write .json or .graphml, or convert with nx.Graph(G)"
        )
    _check_labels_round_trip(G, "an edge list")
    for v in G.nodes:
        text = str(v)
        if not text or any(c.isspace() for c in text) or "#" in text:
            raise GraphError(
                f"vertex label {v!r} cannot be written to an edge list (whitespace or '#'); use .json"
            )
    lines = [DIRECTED_MARK] if G.is_directed() else []
    lines += [f"{u} {v}" for u, v in G.edges]
    lines += [str(v) for v in G.nodes if G.degree(v) == 0]
    return "\n".join(lines) + "\n"


MAX_LABEL_DEPTH = 8  # our bound on tuple labels nested in JSON lists


def _label(value, path: Path, where: str, depth: int = 0):
    """A node id from JSON: int (bool too), str, finite float, or a short list of those (a tuple
    label); never null or an object."""
    if isinstance(value, list) and depth < MAX_LABEL_DEPTH:
        return tuple(_label(v, path, where, depth + 1) for v in value)
    finite = not isinstance(value, float) or math.isfinite(value)
    if isinstance(value, (int, str, float)) and finite:  # bool is an int: networkx writes it
        return value
    raise GraphError(
        f"{path}: {where} {value!r} is not a vertex label (an integer, a string, a finite "
        "number or a short list of these)"
    )


def _read_json(path: Path) -> nx.Graph:
    text = _read_text(path, "JSON")
    try:
        data = json.loads(text)
    except RecursionError:
        raise GraphError(f"{path}: JSON nested too deeply; not a node-link graph") from None
    except ValueError as exc:
        raise GraphError(f"{path}: not valid JSON ({exc})") from None
    try:
        key = "edges" if "edges" in data else "links"
        for node in data.get("nodes", []):
            node["id"] = _label(node["id"], path, "node id")
        for edge in data.get(key, []):
            edge["source"] = _label(edge["source"], path, "edge source")
            edge["target"] = _label(edge["target"], path, "edge target")
        return nx.node_link_graph(data, edges=key)
    except GraphError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError, nx.NetworkXError) as exc:
        raise GraphError(f"{path}: not a node-link graph ({type(exc).__name__}: {exc})") from None


def _read_graphml(path: Path) -> nx.Graph:
    try:
        return nx.read_graphml(path, node_type=_parse_label_any)
    except FileNotFoundError:
        raise GraphError(f"{path}: no such graph file") from None
    except Exception as exc:  # noqa: BLE001 - the parser raises many types for bad files
        raise GraphError(
            f"{path}: not a readable GraphML file ({type(exc).__name__}: {exc})"
        ) from None


def _parse_label_any(token):
    return _parse_label(str(token))


def read_graph(path: str | Path, directed: bool | None = None) -> nx.Graph:
    """Read a graph file; the format is chosen by suffix (see module doc)."""
    path = Path(path)
    kind = _suffix(path)
    if kind == ".edgelist":
        return read_edge_list(path, directed)
    G = _read_json(path) if kind == ".json" else _read_graphml(path)
    if directed is True and not G.is_directed():
        G = G.to_directed()
    if directed is False and G.is_directed():
        G = G.to_undirected()
    return G


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:

    write_with(path, write)


def write_graph(G: nx.Graph, path: str | Path) -> Path:
    """Write ``G`` to ``path`` in the format given by its suffix; returns the path."""
    path = Path(path)
    kind = _suffix(path)
    if kind == ".edgelist":
        text = _edge_list_text(G)
        _atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    elif kind == ".json":
        text = json.dumps(nx.node_link_data(G, edges="edges"), default=_json_default)
        _atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    else:
        _check_labels_round_trip(G, "GraphML")
        _atomic_write(path, lambda p: nx.write_graphml(G, p))
    return path


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
