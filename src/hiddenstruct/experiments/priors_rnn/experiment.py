"""Random structural priors for recurrent networks (paper §4.3, Figure 7, Table 1, R² table).

Random graphs (Watts–Strogatz, Barabási–Albert, Erdős–Rényi; the sampling rules and their
sources in :mod:`hiddenstruct.graphs.generators`) become recurrent classifiers
``Embedding(128 ASCII codes, first layer's width) → GraphRNN(graph, mode) → Linear(·, 2)``
trained on the Reber grammar; graph properties and test accuracy form a meta-dataset.

**Trials and packs.** Every (graph, mode) is one trial of experiment ``priors-rnn``: its
config (family, n, graph seed, mode, training settings) is hashed and stored, and its row
holds the graph properties, test accuracy and loss, train metrics and time. The *unit of
work* is a pack: up to ``pack_size`` pending graphs of one mode trained together as one
disjoint :class:`~hiddenstruct.nn.packed.PackedGraphClassifier` (equal to training each
alone, see ``tests/nn/test_packed.py``). Packs are trials of ``priors-rnn-pack`` run
through :func:`~hiddenstruct.trials.executors.run_trials` (so ``--workers`` and Ray
work); a finished pack's rows are then written to their graph trials. Resume works per
graph: a re-run registers the graph trials, first copies rows out of any finished pack
(e.g. one that completed just before an interruption), then packs only the graphs that are
still not done. An interrupted pack loses only its own partial training.

Every graph sees the same batches in the same order (one shuffle seed for the sweep) and is
initialised from its own seed, so its result does not depend on which pack it lands in.
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path
from typing import Any

from hiddenstruct.experiments.base import Experiment, config_column, result_column
from hiddenstruct.experiments.priors_rnn.config import (
    DATA_KEYS,
    DESCRIPTION,
    EXPERIMENT,
    HELP,
    PACK_EXPERIMENT,
    PRESETS,
    TRAINING_KEYS,
    PriorsConfig,
)
from hiddenstruct.experiments.priors_rnn.outputs import write_outputs
from hiddenstruct.experiments.priors_rnn.report_section import SECTION
from hiddenstruct.experiments.reber_inputs import (
    data_keys,
    overlap_result,
    runtime_paths,
    trial_dataset,
)
from hiddenstruct.trials.artifacts import save_state
from hiddenstruct.trials.executors import TrialLogger, run_trials
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.store import TrialStore

Config = PriorsConfig


def _family_seed(family: str, seed: int) -> int:
    return (zlib.crc32(family.encode()) + 1_000_003 * int(seed)) % 2**31


def graph_trials(config: PriorsConfig) -> list[dict[str, Any]]:
    """One trial config per (graph, mode): sampled graphs are rebuilt from family, n and
    graph_seed; given graphs (``--graphs``) are re-read from their file and keyed by content."""
    from hiddenstruct.graphs.generators import sample_prior_graphs

    common = {"data_seed": config.seed, **{k: getattr(config, k) for k in TRAINING_KEYS[:-1]}}
    common.update(_data_keys(config))
    if config.orientation != "labels":  # absent at the default: old hashes stay
        common["orientation"] = config.orientation
    if config.threads != 1:  # likewise (see config.threads_setting)
        common["threads"] = config.threads
    runtime = runtime_paths(config.reber_csv or ())
    if config.graphs:
        from hiddenstruct.experiments.priors_rnn.graph_inputs import trials_from_files

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


def _data_keys(config: PriorsConfig) -> dict[str, Any]:

    return data_keys(config.negatives, config.unique, config.reber_csv or ())


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
    from hiddenstruct.experiments.priors_rnn.graph_inputs import build_file_graph, is_file_trial
    from hiddenstruct.graphs.dag import to_dag
    from hiddenstruct.graphs.generators import get_family

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


def make_packs(
    trials: list[dict[str, Any]],
    pack_size: int,
    threads: int,
    device: str = "auto",
    save_models: bool = False,
) -> list[dict[str, Any]]:
    """Group trials of equal mode and training settings into packs of similar depth."""
    from hiddenstruct.graphs.dag import layers

    groups: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}
    for trial in trials:
        key = repr([trial.get(k) for k in ("mode", "threads", *TRAINING_KEYS, *DATA_KEYS)])
        G = build_graph(trial)
        groups.setdefault(key, []).append((len(layers(G)), G.number_of_nodes(), trial))
    packs = []
    for members in groups.values():
        members.sort(key=lambda item: (item[0], item[1], trial_identity(EXPERIMENT, item[2])))
        for start in range(0, len(members), pack_size):
            chunk = [item[2] for item in members[start : start + pack_size]]
            runtime = {"device": device, **({"save_models": True} if save_models else {})}
            # a trial's own --threads (absent at 1), else ``threads``; run by execute_trial
            pack_threads = chunk[0].get("threads", threads)
            packs.append({"trials": chunk, "threads": pack_threads, "runtime": runtime})
    return packs


def train_pack(config: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
    """Trial function of a pack: train its graphs together; one result row per graph."""
    import torch
    from torch.utils.data import DataLoader

    from hiddenstruct.data.reber_torch import reber_collate, torch_splits
    from hiddenstruct.graphs.properties import properties
    from hiddenstruct.nn.packed import PackedGraphClassifier, graph_classifier
    from hiddenstruct.training import resolve_device
    from hiddenstruct.training.packed import evaluate_packed, train_packed

    trials = config["trials"]
    first = trials[0]
    device = resolve_device(config.get("runtime", {}).get("device", "auto"))
    # torch threads: the pack's "threads", set by executors.execute_trial
    start = time.perf_counter()
    dataset = trial_dataset(
        first,
        n=first["reber_n"],
        seed=first["data_seed"],
        test_fraction=first["test_fraction"],
        hard_fraction=first["hard_fraction"],
    )
    train_ds, test_ds = torch_splits(dataset)
    shuffle = torch.Generator().manual_seed(int(first["data_seed"]))
    loader = DataLoader(
        train_ds,
        batch_size=first["batch_size"],
        shuffle=True,
        collate_fn=reber_collate,
        generator=shuffle,
    )
    test_loader = DataLoader(test_ds, batch_size=512, collate_fn=reber_collate)
    graphs = [build_graph(t) for t in trials]
    models = [
        graph_classifier(G, t["mode"], seed=t["init_seed"])
        for G, t in zip(graphs, trials, strict=True)
    ]
    packed = PackedGraphClassifier.from_models(models).to(device)

    def record(epoch) -> None:
        log.metric(
            epoch.epoch,
            mean_train_accuracy=sum(epoch.train_accuracy) / len(trials),
            seconds=epoch.seconds,
        )

    history = train_packed(
        packed,
        loader,
        epochs=first["epochs"],
        lr=first["lr"],
        clip_grad_norm=first["clip_grad_norm"],
        device=device,
        on_epoch=record,
    )
    tests = evaluate_packed(packed, test_loader, device=device)
    seconds = time.perf_counter() - start
    saved = (
        _save_models(packed, models, trials, log) if config["runtime"].get("save_models") else {}
    )
    rows = []
    for k, (G, trial, model) in enumerate(zip(graphs, trials, models, strict=True)):
        rows.append(
            {
                "hash": trial_identity(EXPERIMENT, trial),
                **properties(G),
                "test_acc": tests[k].accuracy,
                "test_loss": tests[k].loss,
                "train_acc": history[-1].train_accuracy[k],
                "train_loss": history[-1].train_loss[k],
                "train_curve": [epoch.train_accuracy[k] for epoch in history],
                "seconds": seconds / len(trials),
                "pack_size": len(trials),
                "parameters": sum(int(p.numel()) for p in model.parameters()),
                "device": str(device),
                **overlap_result(dataset),
                **({"model_artifact": saved[k]} if k in saved else {}),
            }
        )
    return {"rows": rows, "seconds": seconds}


def _save_models(packed, models, trials, log: TrialLogger) -> dict[int, str]:
    """Each trained graph model's state_dict as an artifact of the pack; index → stored path."""

    saved = {}
    for k, (model, trial) in enumerate(zip(models, trials, strict=True)):
        path = log.artifact_file(f"model_{trial_identity(EXPERIMENT, trial)[:12]}")
        if path is None:
            continue
        log.artifact(path.stem, save_state(path, packed.extract(k, model)))
        saved[k] = log.artifacts[path.stem]
    return saved


def harvest(store: TrialStore, wanted: set[str] | None = None) -> int:
    """Copy rows of finished packs into their (registered, not yet done) graph trials."""
    copied = 0
    for pack in store.trials(PACK_EXPERIMENT, status="done"):
        for row in (pack.result or {}).get("rows", []):
            trial_hash = row.get("hash")
            if wanted is not None and trial_hash not in wanted:
                continue
            record = store.get(trial_hash)
            if record is not None and record.status != "done":
                model = row.get("model_artifact")
                result = {k: v for k, v in row.items() if k not in ("hash", "model_artifact")}
                store.finish(trial_hash, result, artifacts={"model": model} if model else None)
                copied += 1
    return copied


class SweepRows(list):
    """The rows of a sweep's finished trials (a list), and ``planned``: how many (graph, mode)
    trials the sweep had, for the outputs' "done of planned" line without rebuilding them."""

    def __init__(self, rows: list[dict[str, Any]], planned: int) -> None:
        super().__init__(rows)
        self.planned = planned


def run_sweep(
    config: PriorsConfig,
    store: TrialStore,
    executor=None,
    progress: bool = True,
    trials: list[dict[str, Any]] | None = None,
) -> SweepRows:
    """Train every (graph, mode) not yet done, in packs; return all rows of this sweep.
    ``trials``: :func:`graph_trials`'s list when already built (given graph files and Reber
    CSVs are then not read again)."""
    trials = graph_trials(config) if trials is None else trials
    hashes = [trial_identity(EXPERIMENT, t) for t in trials]
    store.register_many(EXPERIMENT, trials, hashes)
    harvest(store, set(hashes))
    pending = [t for t, h in zip(trials, hashes, strict=True) if store.get(h).status != "done"]
    if pending:
        packs = make_packs(
            pending, config.pack_size, config.threads, config.device, config.save_models
        )
        run_trials(PACK_EXPERIMENT, packs, train_pack, store, executor, progress=progress)
        harvest(store, set(hashes))
    rows = []
    for trial, trial_hash in zip(trials, hashes, strict=True):
        record = store.get(trial_hash)
        if record.status == "done":
            result = {k: v for k, v in record.result.items() if k != "train_curve"}
            rows.append(
                {
                    **{k: trial[k] for k in ROW_KEYS if k in trial},
                    **result,
                    "hash": trial_hash,
                }
            )
    return SweepRows(rows, len(trials))


ROW_KEYS = ("family", "mode", "index", "n", "graph_seed", "name", "graph_sha256")


class PriorsRNN(Experiment):
    """priors-rnn (paper §4.3): random graphs as recurrent priors; trials run in packs of
    graphs trained together, so a sweep's results are the rows of its (graph, mode) trials.
    The demo preset is PRESETS["demo"] (docs/experiments.md lists what it trains)."""

    name = EXPERIMENT
    help = HELP
    description = DESCRIPTION
    config_type = PriorsConfig
    presets = PRESETS
    report_section = SECTION
    paper_scale = (
        ("Reber strings", "reber_n", "value", "reber_n"),
        ("graphs per family", "index", "count", "count"),
        ("modes", "mode", "count", "modes"),
        ("epochs", "epochs", "value", "epochs"),
    )
    list_columns = {
        "family": config_column("family"),
        "mode": config_column("mode"),
        "graph": config_column("index"),
        "n": config_column("n"),
        "test acc": result_column("test_acc"),
    }

    trials = staticmethod(graph_trials)
    run_trial = staticmethod(train_pack)

    def identities(self, config: PriorsConfig, trials=None) -> list[str]:
        planned = graph_trials(config) if trials is None else trials
        return [trial_identity(EXPERIMENT, t) for t in planned]

    sweep = staticmethod(run_sweep)

    def write_outputs(self, results, out_dir: Path, config=None) -> dict[str, str]:
        planned = getattr(results, "planned", None)  # run_sweep's rows know it
        if planned is None and config is not None:
            planned = len(graph_trials(config))
        return write_outputs(results, out_dir, config, planned=planned)


PRIORS_RNN = PriorsRNN()
