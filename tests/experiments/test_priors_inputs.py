"""priors-rnn on given graphs and data: --graphs, --family-from, --ba-seed-graph, --reber-csv."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from hiddenstruct.cli.main import main
from hiddenstruct.data.reber import generate_reber_dataset
from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.priors_rnn.experiment import (
    EXPERIMENT,
    PRESETS,
    PriorsConfig,
    build_graph,
    graph_trials,
    run_sweep,
    write_outputs,
)
from hiddenstruct.graphs.dag import to_dag
from hiddenstruct.graphs.generators import barabasi_albert, watts_strogatz
from hiddenstruct.graphs.io import write_graph
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.store import TrialStore

TINY = PriorsConfig(
    families=("ws", "ba"), count=2, n_min=8, n_max=10, modes=("GRU",), epochs=1,
    batch_size=64, lr=0.01, reber_n=400, pack_size=4,
)  # fmt: skip


def _sources(G) -> int:
    D = to_dag(G)
    return sum(1 for v in D if D.in_degree(v) == 0)


def test_ba_seed_graph_classic_gives_m_sources_and_new_identities():
    star = graph_trials(TINY)
    classic = graph_trials(replace(TINY, ba_seed_graph="classic", n_min=20, n_max=30))
    ba = [t for t in classic if t["family"] == "barabasi_albert"]
    assert all(t["seed_graph"] == "classic" for t in ba)
    assert all(_sources(build_graph(t)) == t["n"] // 10 for t in ba)
    assert all("seed_graph" not in t for t in star)  # the default keeps 0.1.0 trials
    ws = [t for t in classic if t["family"] == "watts_strogatz"]
    assert all("seed_graph" not in t for t in ws)
    assert PRESETS["paper"]["ba_seed_graph"] == "classic" and PRESETS["paper"]["unique"] is True


def test_negatives_and_unique_reach_the_trial_only_when_set():
    old = graph_trials(replace(TINY, unique=None))  # the default before 0.2.0
    assert all("negatives" not in t and "unique" not in t for t in old)
    assert all(t["unique"] is True for t in graph_trials(TINY))  # today's default
    trials = graph_trials(replace(TINY, negatives="authors", unique=True))
    assert {(t["negatives"], t["unique"]) for t in trials} == {("authors", True)}
    ids = {trial_identity(EXPERIMENT, t) for t in trials}
    assert ids.isdisjoint(trial_identity(EXPERIMENT, t) for t in old)


@pytest.fixture
def graph_folder(tmp_path):
    folder = tmp_path / "graphs"
    for k in range(3):
        write_graph(watts_strogatz(10 + k, 4, 1.0, seed=k), folder / f"watts_strogatz_{k}.edgelist")
        write_graph(
            barabasi_albert(10 + k, 2, seed=k, seed_graph="classic"), folder / f"ba_{k}.json"
        )
    return folder


def test_given_graphs_and_csv_run_end_to_end(tmp_path, graph_folder):
    data = generate_reber_dataset(400, 5, negatives="authors")
    csv = data.to_csv(tmp_path / "reber.csv")
    config = replace(TINY, graphs=(str(graph_folder),), reber_csv=(str(csv),))
    trials = graph_trials(config)
    assert len(trials) == 6 and {t["family"] for t in trials} == {
        "watts_strogatz",
        "barabasi_albert",
    }
    assert all(t["reber_csv_sha256"] == data.checksum() for t in trials)
    store = TrialStore(tmp_path / "s.sqlite")
    rows = run_sweep(config, store, progress=False)
    assert len(rows) == 6 and all(r["data_checksum"] == data.checksum() for r in rows)
    assert all(r["test_in_train"] == 0.0 for r in rows)
    written = write_outputs(rows, tmp_path / "out", config)
    table = pd.read_csv(written["table 1"])
    assert "source_nodes" in set(table["property"])
    assert (tmp_path / "out" / "figure7.png").stat().st_size > 0
    assert pd.read_csv(written["reber data"])["test_in_train"].tolist() == [0.0]
    meta = pd.read_csv(written["meta-dataset"])
    assert meta["name"].str.startswith(("ba_", "watts_strogatz_")).all()
    # moving the folder re-runs nothing: trials are keyed by content, not path
    moved = tmp_path / "moved"
    graph_folder.rename(moved)
    again = run_sweep(replace(config, graphs=(str(moved),)), store, progress=False)
    assert {r["hash"] for r in again} == {r["hash"] for r in rows}


def test_cli_options_and_errors(tmp_path, graph_folder, capsys):
    out, store = tmp_path / "out", tmp_path / "s.sqlite"
    argv = ["experiment", "priors-rnn", "--graphs", str(graph_folder), "--modes", "GRU"]
    argv += ["--epochs", "1", "--reber-n", "300", "--family-from", "folder", "--print-config"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "family_from" in printed and "graphs" in printed
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.edgelist").write_text("# directed\n0 1\n1 0\n")
    code = main(["experiment", "priors-rnn", "--graphs", str(tmp_path / "bad"), "--output", str(out),
                 "--store", str(store)])  # fmt: skip
    assert code == 2 and "cycle" in capsys.readouterr().err
    with pytest.raises(UsageError, match="one CSV"):
        replace(TINY, reber_csv=("a.csv", "b.csv", "c.csv"))


def test_directed_edge_lists_option_reads_networkx_edge_lists_as_written(tmp_path, capsys):
    """--directed-edge-lists (0.2.0): a directed cycle is an error naming it."""
    import networkx as nx

    from hiddenstruct.experiments.priors_rnn.graph_inputs import build_file_graph

    folder = tmp_path / "g"
    folder.mkdir()
    nx.write_edgelist(nx.DiGraph([(0, 1), (1, 2), (0, 2)]), folder / "dag.edgelist")
    (folder / "dag.edgelist").write_text((folder / "dag.edgelist").read_text() + "0 1\n")
    config = replace(TINY, graphs=(str(folder),), directed_edge_lists=True)
    trials = graph_trials(config)
    G = build_file_graph(trials[0])
    assert G.is_directed() and set(G.edges) == {(0, 1), (1, 2), (0, 2)}
    assert "dag.edgelist: 1 duplicate edge line(s) merged" in capsys.readouterr().err
    undirected = graph_trials(replace(config, directed_edge_lists=False))
    assert undirected[0]["graph_sha256"] != trials[0]["graph_sha256"]
    nx.write_edgelist(nx.DiGraph([(0, 1), (1, 2), (2, 0)]), folder / "cycle.edgelist")
    with pytest.raises(
        UsageError, match=r"cycle\.edgelist: the graph has a cycle: 0 -> 1 -> 2 -> 0"
    ):
        graph_trials(config)
