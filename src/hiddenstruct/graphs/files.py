"""Bring your own graphs: load graph files or folders as (family, name, content hash, graph).

Files are read with :func:`hiddenstruct.graphs.io.read_graph` (edge list ``.txt`` /
``.edges`` / ``.edgelist``, ``.graphml``, node-link ``.json``); a folder contributes its
graph files (recursively, sorted, hidden files skipped). Each graph is validated (not
empty, no self-loops, no directed cycles) and keyed by the SHA-256 of its content (vertices,
edges, directedness — not the file's bytes), so the same graph saved as GraphML or as an edge
list is one trial. The family comes from a rule (:data:`FAMILY_RULES`)::

    records = load_graph_files(["graphs/"], family_from="prefix")
    records[0].family, records[0].name     # e.g. ('watts_strogatz', 'watts_strogatz_3')
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from hiddenstruct.errors import GraphError, UsageError, lookup
from hiddenstruct.graphs.dag import validate_graph
from hiddenstruct.graphs.generators import FAMILY_ALIASES
from hiddenstruct.graphs.io import EDGE_LIST_SUFFIXES, read_graph

GRAPH_SUFFIXES = (*EDGE_LIST_SUFFIXES, ".graphml", ".json")


class GraphFileError(UsageError, GraphError):
    """A graph file given by the user cannot be used (exit code 2)."""


@dataclass(frozen=True)
class GraphRecord:
    """One loaded graph: its family, name (file stem), content hash, graph and file."""

    family: str
    name: str
    content_hash: str
    graph: nx.Graph
    path: Path


def graph_content_hash(G: nx.Graph) -> str:
    """``sha256:<hex>`` of the vertices, edges and directedness of ``G`` (attributes ignored)."""
    directed = G.is_directed()
    edges = [[repr(u), repr(v)] if directed else sorted((repr(u), repr(v))) for u, v in G.edges]
    content = {
        "directed": directed,
        "nodes": sorted(repr(v) for v in G.nodes),
        "edges": sorted(edges),
    }
    text = json.dumps(content, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _prefix_family(path: Path, G: nx.Graph) -> str:  # noqa: ARG001 - uniform rule signature
    stem = re.sub(r"[_\-. ]*\d+$", "", path.stem) or path.stem
    return FAMILY_ALIASES.get(stem, stem)


def _folder_family(path: Path, G: nx.Graph) -> str:  # noqa: ARG001 - uniform rule signature
    return FAMILY_ALIASES.get(path.parent.name, path.parent.name) or "graphs"


def _attribute_family(path: Path, G: nx.Graph) -> str:
    family = G.graph.get("family")
    if not isinstance(family, str) or not family:
        raise GraphFileError(
            f"{path}: no 'family' graph attribute (GraphML/JSON graph data); "
            "use --family-from prefix or folder instead"
        )
    return FAMILY_ALIASES.get(family, family)


#: ``--family-from`` rules: how a graph's family is named.
FAMILY_RULES: Mapping[str, Callable[[Path, nx.Graph], str]] = {
    "prefix": _prefix_family,  # file name without a trailing number: watts_strogatz_3 → watts_strogatz
    "folder": _folder_family,  # the name of the folder holding the file
    "attribute": _attribute_family,  # the graph's own 'family' attribute (GraphML, JSON)
}


def graph_files(paths: Iterable[str | Path]) -> list[Path]:
    """The graph files named by ``paths`` (files, or folders searched recursively), in order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in GRAPH_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not inside:
                raise GraphFileError(
                    f"{path}: folder holds no graph files ({', '.join(GRAPH_SUFFIXES)})"
                )
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise GraphFileError(f"{path}: no such graph file or folder")
    if not found:
        raise GraphFileError("no graph files given")
    return found


def read_graph_file(path: str | Path, directed: bool = False) -> nx.Graph:
    """:func:`read_graph`, with ``directed=True`` reading edge lists as directed (networkx's
    ``write_edgelist`` records no direction; GraphML and node-link JSON say theirs)."""
    path = Path(path)
    edge_list = path.suffix.lower() in EDGE_LIST_SUFFIXES
    return read_graph(path, True if directed and edge_list else None)


def duplicate_note(path: str | Path, G: nx.Graph) -> str | None:
    """One line saying that ``path`` listed edges twice and they were merged (None if not)."""
    merged = G.graph.get("merged_duplicate_edges", 0)
    if not merged:
        return None
    return f"note: {path}: {merged} duplicate edge line(s) merged (an edge is kept once)"


def unique_names(paths: Iterable[str | Path]) -> list[str]:
    """A name per file, unique across ``paths``: the stem, or the file name where stems collide
    (ws.edgelist, ws.graphml), or the path where file names collide too."""
    paths = [Path(p) for p in paths]
    names = []
    for path in paths:
        stems = sum(p.stem == path.stem for p in paths)
        files = sum(p.name == path.name for p in paths)
        names.append(path.stem if stems == 1 else path.name if files == 1 else str(path))
    return names


def load_graph_file(
    path: str | Path, family_from: str = "prefix", directed: bool = False
) -> GraphRecord:
    """Read, validate and key one graph file; errors name the file and say what to fix.
    ``directed``: read an edge list as a directed graph (see :func:`read_graph_file`)."""
    path = Path(path)
    rule = _rule(family_from)
    try:
        G = read_graph_file(path, directed)
    except GraphError as err:
        raise GraphFileError(str(err)) from None
    try:
        validate_graph(G)
    except GraphError as err:
        raise GraphFileError(
            f"{path}: {err}; priors need a non-empty graph without cycles"
        ) from None
    family = rule(path, G)
    G.graph.update(family=family, source_file=str(path))
    return GraphRecord(family, path.stem, graph_content_hash(G), G, path)


def load_graph_files(
    paths: Iterable[str | Path], family_from: str = "prefix", directed: bool = False
) -> list[GraphRecord]:
    """Load every graph under ``paths``; the same graph content twice is an error naming both
    files. Names are unique across the files (:func:`unique_names`)."""
    _rule(family_from)
    files = graph_files(paths)
    records = [
        dataclasses.replace(load_graph_file(p, family_from, directed), name=name)
        for p, name in zip(files, unique_names(files), strict=True)
    ]
    first: dict[str, Path] = {}
    for record in records:
        if record.content_hash in first:
            raise GraphFileError(
                f"{record.path} holds the same graph as {first[record.content_hash]}; "
                "give each graph once (trials are keyed by graph content)"
            )
        first[record.content_hash] = record.path
    return records


def _rule(name: str) -> Callable[[Path, nx.Graph], str]:
    return lookup(FAMILY_RULES, name, "family rule")
