"""Bring-your-own graphs: formats, family rules, content hashes and clear errors."""

from __future__ import annotations

import networkx as nx
import pytest

from hiddenstruct.errors import GraphError, UsageError
from hiddenstruct.graphs.files import (
    FAMILY_RULES,
    GraphFileError,
    graph_content_hash,
    graph_files,
    load_graph_file,
    load_graph_files,
)
from hiddenstruct.graphs.generators import barabasi_albert, watts_strogatz
from hiddenstruct.graphs.io import write_graph


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "graphs"
    write_graph(watts_strogatz(12, 4, 1.0, seed=1), root / "watts_strogatz_1.edgelist")
    write_graph(watts_strogatz(14, 4, 1.0, seed=2), root / "watts_strogatz_2.graphml")
    write_graph(barabasi_albert(15, 1, seed=3), root / "ba" / "barabasi_albert-7.json")
    (root / "notes.md").write_text("not a graph")
    write_graph(nx.path_graph(3), root / ".hidden" / "x_1.edgelist")
    return root


def test_folder_loads_every_format_with_prefix_families(folder) -> None:
    records = load_graph_files([folder])
    assert [r.name for r in records] == [
        "barabasi_albert-7",
        "watts_strogatz_1",
        "watts_strogatz_2",
    ]
    assert [r.family for r in records] == ["barabasi_albert", "watts_strogatz", "watts_strogatz"]
    assert [r.graph.number_of_nodes() for r in records] == [15, 12, 14]
    assert records[0].graph.number_of_edges() == 14
    assert len({r.content_hash for r in records}) == 3
    assert all(r.graph.graph["family"] == r.family for r in records)


def test_family_rules(folder, tmp_path) -> None:
    by_folder = load_graph_files([folder], family_from="folder")
    # the folder "ba" is the alias of barabasi_albert
    assert [r.family for r in by_folder] == ["barabasi_albert", "graphs", "graphs"]
    by_attribute = load_graph_file(folder / "ba" / "barabasi_albert-7.json", "attribute")
    assert by_attribute.family == "barabasi_albert"  # written by the generator into the JSON
    write_graph(nx.path_graph(4), tmp_path / "ws_12.edgelist")
    assert load_graph_file(tmp_path / "ws_12.edgelist").family == "watts_strogatz"
    with pytest.raises(GraphFileError, match="no 'family' graph attribute"):
        load_graph_file(tmp_path / "ws_12.edgelist", "attribute")
    with pytest.raises(UsageError, match="prefix, folder, attribute"):
        load_graph_files([folder], family_from="suffix")
    assert set(FAMILY_RULES) == {"prefix", "folder", "attribute"}


def test_content_hash_ignores_format_and_attributes(tmp_path) -> None:
    G = barabasi_albert(20, 2, seed=4)
    hashes = set()
    for name in ("a.edgelist", "b.graphml", "c.json"):
        write_graph(G, tmp_path / name)
        hashes.add(load_graph_file(tmp_path / name).content_hash)
    assert hashes == {graph_content_hash(G)}
    H = G.copy()
    H.remove_edge(*next(iter(G.edges)))
    assert graph_content_hash(H) != graph_content_hash(G)
    assert graph_content_hash(G.to_directed()) != graph_content_hash(G)
    with pytest.raises(GraphFileError, match="same graph as"):
        load_graph_files([tmp_path])


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("cyclic.edgelist", "# directed\n0 1\n1 2\n2 0\n", "cycle"),
        ("empty.edgelist", "# nothing here\n", "empty"),
        ("loop.edgelist", "0 0\n0 1\n", "self-loops"),
        ("bad.edgelist", "0 1 2 3\n", "expected 'u v'"),
        ("bad.json", "{not json", "not valid JSON"),
        ("bad.graphml", "<graphml><oops", "not a readable GraphML"),
        ("bad.gml", "graph [ ]", "unknown graph file type"),
    ],
)
def test_unusable_files_raise_usage_errors_naming_the_file(tmp_path, name, text, message) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(GraphFileError, match=message) as info:
        load_graph_files([path])
    assert name in str(info.value)
    assert isinstance(info.value, UsageError) and isinstance(info.value, GraphError)


def test_missing_paths_and_empty_folders(tmp_path) -> None:
    with pytest.raises(GraphFileError, match="no such graph file or folder"):
        graph_files([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(GraphFileError, match="holds no graph files"):
        graph_files([tmp_path / "empty"])
    with pytest.raises(GraphFileError, match="no graph files given"):
        graph_files([])
