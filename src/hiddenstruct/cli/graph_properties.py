"""``hiddenstruct graph-properties``: the structural features (paper Table 1) of graph files, one row each."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import networkx as nx

from hiddenstruct.cli.common import positive_int
from hiddenstruct.cli.paths import check_output_file
from hiddenstruct.errors import GraphError, UsageError
from hiddenstruct.graphs.cost import WARN_SECONDS, estimated_seconds, human_duration
from hiddenstruct.graphs.dag import cycle_text
from hiddenstruct.graphs.files import duplicate_note, read_graph_file, unique_names
from hiddenstruct.graphs.properties import (
    BACKENDS,
    DISCONNECTED_POLICIES,
    PROPERTY_NAMES,
    properties,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "graph-properties",
        help="structural features (layers, diameter, closeness, betweenness, ...) of graph files",
        description="Compute the graph properties of paper Table 1 for each file and write "
        "one row per file: 'graph' (the file stem; the file name where stems collide) then "
        + ", ".join(PROPERTY_NAMES)
        + ". Files: edge lists (.txt/.edges/.edgelist: one 'u v' per line, a lone 'u' is an isolated "
        "vertex, '#' comments, edge data as networkx's write_edgelist writes it: 'u v {...}' or 'u v WEIGHT'; "
        "first line '# directed' or --directed for a DAG), GraphML (.graphml) and node-link "
        "JSON (.json). Distances and centralities use the undirected graph; layers, source_nodes and "
        "sink_nodes the DAG (undirected graphs oriented from smaller to larger label).",
    )
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="graph files to analyse"
    )
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        required=True,
        help="CSV file to write (.parquet writes Parquet); written only when every file succeeded",
    )
    parser.add_argument(
        "--max-edges",
        type=positive_int,
        default=None,
        help="refuse graphs with more edges than this (default: no limit; a graph whose "
        f"estimated time exceeds {WARN_SECONDS:.0f} s gets a warning first)",
    )
    parser.add_argument(
        "--backend",
        choices=tuple(BACKENDS),
        default="igraph",
        help="igraph (fast, default) or networkx (the slow reference; same values to 1e-9)",
    )
    parser.add_argument(
        "--disconnected",
        choices=DISCONNECTED_POLICIES,
        default="error",
        help="what to do with a disconnected graph: 'error' (default, the file is reported and nothing "
        "is written) or 'largest' (properties of its largest connected component; noted on stderr)",
    )
    parser.add_argument(
        "--directed",
        action="store_true",
        help="read edge lists as directed graphs (u -> v per line; networkx's write_edgelist "
        "records no direction); a directed cycle is then an error naming it. GraphML and "
        "node-link JSON keep their own directedness",
    )
    parser.set_defaults(func=run)


def _is_connected(G) -> bool:

    return nx.is_weakly_connected(G) if G.is_directed() else nx.is_connected(G)


def _guard_size(path: Path, G, args: argparse.Namespace) -> None:
    """--max-edges refuses; a long estimated computation is announced on stderr."""

    nodes, edges = G.number_of_nodes(), G.number_of_edges()
    estimate = human_duration(estimated_seconds(nodes, edges, args.backend))
    if args.max_edges is not None and edges > args.max_edges:
        raise UsageError(
            f"{path} has {edges} edges, more than --max-edges {args.max_edges} (its properties "
            f"would take roughly {estimate}); raise --max-edges or drop the file"
        )
    if estimated_seconds(nodes, edges, args.backend) > WARN_SECONDS:
        print(
            f"warning: {path} has {nodes} vertices and {edges} edges; its properties take "
            f"roughly {estimate} with the {args.backend} backend (Ctrl-C stops; --max-edges N "
            "refuses such files)",
            file=sys.stderr,
        )


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from hiddenstruct.predict.dataset import write_table

    check_output_file(args.output, (".csv", ".parquet"))
    rows = []
    show = len(args.files) > 1 and sys.stderr.isatty()
    names = unique_names(args.files)
    for number, path in enumerate(args.files, start=1):
        if show:
            print(f"[{number}/{len(args.files)}] {path}", file=sys.stderr)
        G = read_graph_file(path, args.directed)  # GraphError messages name the file
        cycle = cycle_text(G)
        if cycle is not None:
            raise GraphError(
                f"{path}: the directed graph has a cycle: {cycle}; the properties need a DAG "
                "(an edge list is read as undirected without --directed)"
            )
        note = duplicate_note(path, G)
        if note:
            print(note, file=sys.stderr)
        _guard_size(path, G, args)
        try:
            values = properties(G, args.backend, disconnected=args.disconnected)
        except GraphError as err:
            raise GraphError(f"{path}: {err}") from None
        if args.disconnected == "largest" and G.number_of_nodes() and not _is_connected(G):
            print(
                f"note: {path} is disconnected; its row describes the largest component "
                f"({values['nodes']} of {G.number_of_nodes()} vertices)",
                file=sys.stderr,
            )
        rows.append({"graph": names[number - 1], **values})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_table(pd.DataFrame(rows, columns=["graph", *PROPERTY_NAMES]), args.output)
    print(f"wrote properties of {len(rows)} graph(s) to {args.output}")
    return 0
