"""Settings of the priors-rnn experiment (paper §4.3): its config type, presets and trials
(one per graph and mode), and the graph of a trial; the protocol is described in
:mod:`.experiment`. Light imports only: every command line imports this module."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.priors_rnn.graph_inputs import (
    ba_seed_graph_setting,
    build_file_graph,
    directed_edge_lists_setting,
    family_from_setting,
    graphs_setting,
    is_file_trial,
    trials_from_files,
)
from hiddenstruct.experiments.reber_inputs import (
    CSV_KEY,
    check_reber_csv,
    data_keys,
    negatives_setting,
    reber_csv_setting,
    runtime_paths,
    unique_setting,
)
from hiddenstruct.graphs.dag import to_dag
from hiddenstruct.graphs.generators import get_family, sample_prior_graphs
from hiddenstruct.recurrent_modes import MODE_NAMES as MODES
from hiddenstruct.recurrent_modes import get_mode
from hiddenstruct.trials.settings import ExperimentConfig, device_setting, setting, threads_setting

EXPERIMENT = "priors-rnn"
PACK_EXPERIMENT = "priors-rnn-pack"  # the unit of work: a pack of graph trials (:mod:`.sweep`)
HELP = "random graphs (WS/BA/ER) as recurrent priors on Reber: Figure 7, Table 1, R²"
DESCRIPTION = (
    "Sample random graphs, build a GraphRNN classifier per graph and mode, train on the Reber "
    "grammar (many graphs packed into one model, each trained as if alone), store one trial per "
    "(graph, mode) and write: meta_dataset.csv, figure7.png, table1_correlations.csv, r2.csv, "
    "importances.csv, family_summary.csv. --preset paper: 2 × 100 graphs and 4 modes (paper "
    "text), 25 000 strings (paper §4.2), n in [10, 50] and 15 epochs (our choices), the "
    "authors' negatives and classic BA. Re-running skips finished "
    "(graph, mode) trials."
)

ORIENTATIONS = ("labels", "random")
TRAINING_KEYS = (
    "epochs", "batch_size", "lr", "clip_grad_norm", "reber_n", "hard_fraction", "test_fraction",
    "data_seed",
)  # fmt: skip
DATA_KEYS = ("negatives", "unique", CSV_KEY)  # present only when not 0.1.0's data


@dataclass(frozen=True)
class PriorsConfig(ExperimentConfig):
    """Settings of a priors sweep; defaults (the ``small`` preset) run in minutes on a laptop CPU."""

    families: tuple[str, ...] = setting(("ws", "ba"), "graph families: ws, ba, er")
    count: int = setting(8, "graphs per family", low=1)
    n_min: int = setting(10, "fewest vertices per graph", low=2)
    n_max: int = setting(20, "most vertices per graph", low=2)
    modes: tuple[str, ...] = setting(("GRU",), "recurrent modes: RNN_TANH RNN_RELU LSTM GRU")
    epochs: int = setting(3, "training epochs", low=1)
    batch_size: int = setting(128, "batch size", low=1)
    lr: float = setting(1e-3, "Adam learning rate", low=0, low_open=True)
    clip_grad_norm: float = setting(
        5.0, "per-graph gradient norm clipping", low=0, low_open=True, aliases=("--clip",)
    )
    reber_n: int = setting(4000, "Reber strings in total, train + test", low=1)
    hard_fraction: float = setting(0.5, "share of hard (one-edit) negatives", low=0, high=1)
    test_fraction: float = setting(
        0.25, "held-out share of the strings", low=0, high=1, low_open=True, high_open=True
    )
    seed: int = setting(0, "graph sampling, data and shuffle seed")
    pack_size: int = setting(8, "graphs trained together in one packed model", low=1)
    threads: int = threads_setting()
    orientation: str = setting(
        "labels",
        "edge orientation: labels (ascending, as the paper's layering; docs/priors-experiment.md) or random (seeded per graph)",
        choices=ORIENTATIONS,
    )
    negatives: str = negatives_setting()
    unique: bool | None = unique_setting()
    reber_csv: tuple[str, ...] | None = reber_csv_setting()
    ba_seed_graph: str = ba_seed_graph_setting()
    graphs: tuple[str, ...] | None = graphs_setting()
    family_from: str = family_from_setting()
    directed_edge_lists: bool = directed_edge_lists_setting()
    device: str = device_setting()
    save_models: bool = setting(
        False,
        "keep each graph model trained in this run (state_dict under <store folder>/artifacts/; "
        "`hiddenstruct results artifacts HASH` lists them)",
        runtime=True,
    )

    def check(self) -> None:
        """Normalise family and mode names; n_min <= n_max."""
        try:
            families = tuple(dict.fromkeys(get_family(f).name for f in self.families))
            modes = tuple(dict.fromkeys(get_mode(m).name for m in self.modes))
        except ValueError as err:
            raise UsageError(str(err)) from None
        if not self.n_min <= self.n_max:
            raise UsageError(
                f"need 2 <= n_min <= n_max, got n_min={self.n_min}, n_max={self.n_max}"
            )
        object.__setattr__(self, "families", families)  # normalised names, still frozen
        object.__setattr__(self, "modes", modes)
        check_reber_csv(self.reber_csv)


PRESETS: dict[str, dict[str, Any]] = {
    "small": {},
    # 2 × 100 graphs, 4 modes — paper text (§4.3); 25 000 strings — paper text (§4.2, the same
    # Reber data); n in [10, 50] (with WS k = n // 5, p = 1 and BA m = n // 10) — not in the
    # paper's text, 0.1.0's choices; classic BA — the paper's 2021
    # graphs (m sources, docs/priors-experiment.md); negatives "authors", unique — the authors' published
    # dataset; 15 epochs, batch 128, lr 1e-3, clipping 5 — our choice (the paper gives none)
    "paper": dict(
        count=100,
        n_min=10,
        n_max=50,
        modes=MODES,
        epochs=15,
        reber_n=25_000,
        ba_seed_graph="classic",
        negatives="authors",
        unique=True,
    ),
    # toy scale, our choice (measured; docs/experiments.md): at n 10-14 every BA graph is a tree (m = n // 10 = 1)
    # whose first layer has one vertex — a one-dimensional embedding — and 3 epochs of batch
    # 128 (about 30 steps) left all of them at 0.500; n 20-30 (m = 2-3) and 25 epochs of batch
    # 32 let both families learn
    # classic BA as the paper preset: networkx's star growth leaves one source vertex, a
    # one-unit first layer that held every demo BA model at 0.81-0.87 (classic: 0.90-0.97)
    "demo": dict(
        count=3,
        n_min=20,
        n_max=30,
        epochs=25,
        batch_size=32,
        lr=0.01,
        reber_n=2000,
        pack_size=6,
        ba_seed_graph="classic",
    ),
}


Config = PriorsConfig


def graph_trials(config: PriorsConfig) -> list[dict[str, Any]]:
    """One trial config per (graph, mode): sampled graphs are rebuilt from family, n and
    graph_seed; given graphs (``--graphs``) are re-read from their file and keyed by content."""
    common = {"data_seed": config.seed, **{k: getattr(config, k) for k in TRAINING_KEYS[:-1]}}
    common.update(data_keys(config.negatives, config.unique, config.reber_csv or ()))
    if config.orientation != "labels":  # absent at the default: old hashes stay
        common["orientation"] = config.orientation
    if config.threads != 1:  # likewise (see config.threads_setting)
        common["threads"] = config.threads
    runtime = runtime_paths(config.reber_csv or ())
    if config.graphs:
        return trials_from_files(
            config.graphs,
            config.family_from,
            config.modes,
            common,
            runtime,
            directed=config.directed_edge_lists,
        )
    trials = []
    for family in config.families:
        options = _family_options(config, family)
        graphs = sample_prior_graphs(
            family,
            config.count,
            (config.n_min, config.n_max),
            _family_seed(family, config.seed),
            options=options,
        )
        for G in graphs:
            for mode in config.modes:
                trial = {
                    "family": family,
                    "index": G.graph["index"],
                    "n": G.graph["n"],
                    "graph_seed": G.graph["seed"],
                }
                trial.update(mode=mode, init_seed=G.graph["seed"] % 2**31)
                trial.update(common)
                trial.update(options)  # seed_graph only when not the 0.1.0 star
                if runtime:
                    trial["runtime"] = dict(runtime)
                trials.append(trial)
    return trials


def _family_seed(family: str, seed: int) -> int:
    return (zlib.crc32(family.encode()) + 1_000_003 * int(seed)) % 2**31


def _family_options(config: PriorsConfig, family: str) -> dict[str, Any]:
    if family == "barabasi_albert" and config.ba_seed_graph != "star":
        return {"seed_graph": config.ba_seed_graph}
    return {}


def build_graph(trial: dict[str, Any]):
    """The graph of a trial (as :func:`sample_prior_graphs` produced it).

    With ``orientation: random`` it is returned as a DAG oriented by a permutation seeded
    with the graph seed; the model and the properties (``layers``, ``source_nodes``, …)
    then use that DAG.
    """
    if is_file_trial(trial):
        G, seed = build_file_graph(trial), int(trial["init_seed"])
    else:
        options = {"seed_graph": trial["seed_graph"]} if "seed_graph" in trial else {}
        seed = int(trial["graph_seed"])
        G = get_family(trial["family"]).make(int(trial["n"]), seed, **options)
        G.graph.update(family=trial["family"], index=trial["index"], seed=seed)
    if trial.get("orientation", "labels") == "random":
        G = to_dag(G, seed=seed)
    return G
