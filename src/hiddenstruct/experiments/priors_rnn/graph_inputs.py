"""Given graphs as priors-rnn trials: one trial per (graph file, mode), keyed by graph content.

A trial of a given graph holds ``family`` (from the ``--family-from`` rule), ``name`` (file
stem), ``n`` and ``graph_sha256`` (its identity) and, in its ``runtime`` part (not identity),
the file to read. Its initialisation seed derives from the content hash, so the same graph
gets the same model wherever the file lives::

    trials = file_graph_trials(load_graph_files(["graphs/"]), modes=("GRU",))
    G = build_file_graph(trials[0])          # re-read, checked against graph_sha256
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs.files import (
    FAMILY_RULES,
    GraphRecord,
    duplicate_note,
    load_graph_file,
    load_graph_files,
)
from hiddenstruct.graphs.generators import BA_SEED_GRAPHS
from hiddenstruct.trials.settings import setting

RUNTIME_KEY = "runtime"
HASH_KEY = "graph_sha256"
FILE_KEY = "graph_file"
DIRECTED_KEY = "directed_edge_lists"
_NOTED: set[str] = set()  # duplicate-edge notes already printed by this process


def ba_seed_graph_setting() -> Any:
    """``--ba-seed-graph``: how Barabási–Albert graphs grow (added after 0.1.0: default star)."""
    return setting(
        "star",
        "Barabási–Albert growth: star (networkx >= 2.6: one source vertex) or classic (m isolated "
        "seeds, m = n // 10 sources, as the paper's 2021 graphs)",
        choices=BA_SEED_GRAPHS,
        added=True,
    )


def graphs_setting() -> Any:
    """``--graphs PATH...``: given graph files or folders instead of sampled graphs."""
    return setting(
        None,
        "train on these graph files or folders (edge list, GraphML, node-link JSON) instead of "
        "sampling: one trial per (graph, mode), keyed by the graph's content; --families, "
        "--count, --n-min/--n-max and --ba-seed-graph are then unused",
        metavar="PATH",
        runtime=True,
    )


def family_from_setting() -> Any:
    """``--family-from``: how a given graph's family is named."""
    return setting(
        "prefix",
        "family of a given graph: prefix (file name without a trailing number, "
        "watts_strogatz_3.edgelist -> watts_strogatz), folder, or attribute (its 'family')",
        choices=tuple(FAMILY_RULES),
        runtime=True,
    )


def directed_edge_lists_setting() -> Any:
    """``--directed-edge-lists``: read given edge lists as directed graphs."""
    return setting(
        False,
        "read the edge lists among --graphs as directed (u -> v per line; networkx's "
        "write_edgelist records no direction); a directed cycle is then an error naming it. "
        "GraphML and node-link JSON keep their own directedness",
        runtime=True,  # the direction is part of each graph's content hash already
    )


def trials_from_files(
    paths: Sequence[str],
    family_from: str,
    modes: Sequence[str],
    common: Mapping[str, Any],
    runtime: Mapping[str, Any],
    directed: bool = False,
) -> list[dict[str, Any]]:
    """Load the graphs under ``paths`` and make their trials (``common`` settings, ``runtime``);
    ``directed``: read edge lists as directed. A note on stderr names files whose duplicate
    edge lines were merged."""
    records = load_graph_files(paths, family_from, directed)
    for record in records:
        note = duplicate_note(record.path, record.graph)
        if note and note not in _NOTED:  # trials are built more than once per run
            _NOTED.add(note)
            print(note, file=sys.stderr)
    extra = {DIRECTED_KEY: True} if directed else {}
    return file_graph_trials(records, modes, {**common, RUNTIME_KEY: {**runtime, **extra}})


def init_seed_of(content_hash: str) -> int:
    """A model-initialisation seed in [0, 2³¹) taken from the graph's content hash."""
    return int(content_hash.split(":", 1)[-1][:8], 16) % 2**31


def file_graph_trials(
    records: Sequence[GraphRecord], modes: Sequence[str], common: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """One trial config per (record, mode): graph keys, ``common`` settings, the file at runtime."""
    trials = []
    index: dict[str, int] = {}
    for record in records:
        position = index[record.family] = index.get(record.family, -1) + 1
        for mode in modes:
            trial = {
                "family": record.family,
                "index": position,
                "name": record.name,
                "n": record.graph.number_of_nodes(),
                HASH_KEY: record.content_hash,
                "mode": mode,
                "init_seed": init_seed_of(record.content_hash),
            }
            trial.update(common or {})
            trial[RUNTIME_KEY] = {
                **trial.get(RUNTIME_KEY, {}),
                FILE_KEY: str(record.path.resolve()),
            }
            trials.append(trial)
    return trials


def is_file_trial(trial: Mapping[str, Any]) -> bool:
    """True for a trial of a given graph (rather than a sampled one)."""
    return HASH_KEY in trial


def build_file_graph(trial: Mapping[str, Any]) -> nx.Graph:
    """Re-read a trial's graph file; it must still hold the graph the trial was keyed by."""
    path = trial.get(RUNTIME_KEY, {}).get(FILE_KEY)
    if not path:
        raise UsageError(f"trial of graph {trial[HASH_KEY]} has no graph file; pass --graphs again")
    record = load_graph_file(path, "prefix", bool(trial[RUNTIME_KEY].get(DIRECTED_KEY)))
    if record.content_hash != trial[HASH_KEY]:
        raise UsageError(
            f"{path} changed since the trial was registered ({record.content_hash} != "
            f"{trial[HASH_KEY]}); give the original file or start a new store"
        )
    G = record.graph
    G.graph.update(family=trial["family"], index=trial["index"], name=trial["name"])
    return G
