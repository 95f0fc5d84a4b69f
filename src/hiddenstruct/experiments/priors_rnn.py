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
through :func:`~hiddenstruct.experiments.executors.run_trials` (so ``--workers`` and Ray
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.config import (
    ExperimentConfig,
    device_setting,
    preset_values,
    setting,
    threads_setting,
)
from hiddenstruct.experiments.executors import TrialLogger, run_trials
from hiddenstruct.experiments.graph_inputs import (
    ba_seed_graph_setting,
    directed_edge_lists_setting,
    family_from_setting,
    graphs_setting,
)
from hiddenstruct.experiments.identity import trial_identity
from hiddenstruct.experiments.reber_inputs import (
    CSV_KEY,
    check_reber_csv,
    negatives_setting,
    reber_csv_setting,
    runtime_paths,
    unique_setting,
    write_overlap,
)
from hiddenstruct.experiments.store import TrialStore
from hiddenstruct.recurrent_modes import MODE_NAMES as MODES

EXPERIMENT = "priors-rnn"
PACK_EXPERIMENT = "priors-rnn-pack"
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
        "edge orientation: labels (ascending, DESIGN §2) or random (seeded per graph)",
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
        from hiddenstruct.graphs.generators import get_family
        from hiddenstruct.recurrent_modes import get_mode

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
    # graphs (m sources, issue 13); negatives "authors", unique — the authors' published
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
    # toy scale, our choice (issue 25): at n 10-14 every BA graph is a tree (m = n // 10 = 1)
    # whose first layer has one vertex — a one-dimensional embedding — and 3 epochs of batch
    # 128 (about 30 steps) left all of them at 0.500; n 20-30 (m = 2-3) and 25 epochs of batch
    # 32 let both families learn
    "demo": dict(
        count=3, n_min=20, n_max=30, epochs=25, batch_size=32, lr=0.01, reber_n=2000, pack_size=6
    ),
}
Config = PriorsConfig
NAME = EXPERIMENT
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


def preset(name: str, **overrides: Any) -> PriorsConfig:
    """A named preset (small, paper, demo) with overrides; unknown names list the valid ones."""
    values = preset_values(PRESETS, name)
    return PriorsConfig(**{**values, **{k: v for k, v in overrides.items() if v is not None}})


def validate(config: PriorsConfig) -> PriorsConfig:
    """Kept for 0.1.0 callers: a config is validated (and its names normalised) on construction."""
    return config


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
        from hiddenstruct.experiments.graph_inputs import trials_from_files

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
    from hiddenstruct.experiments.reber_inputs import data_keys

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
    from hiddenstruct.experiments.graph_inputs import build_file_graph, is_file_trial
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
    from hiddenstruct.experiments.reber_inputs import overlap_result, trial_dataset
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
    from hiddenstruct.experiments.artifacts import save_state

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


def run_sweep(
    config: PriorsConfig, store: TrialStore, executor=None, progress: bool = True
) -> list[dict[str, Any]]:
    """Train every (graph, mode) not yet done, in packs; return all rows of this sweep."""
    trials = graph_trials(config)
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
    return rows


ROW_KEYS = ("family", "mode", "index", "n", "graph_seed", "name", "graph_sha256")


def write_outputs(
    rows: list[dict[str, Any]], out_dir: Path, config: PriorsConfig | None = None, seed: int = 7
) -> dict[str, str]:
    """Meta-dataset CSV, Figure 7, Table 1 (correlations), R² table and importances."""
    import pandas as pd

    from hiddenstruct.predict import evaluate_regressors, feature_importances, write_table

    # the function from its module: once anything imported the submodule
    # hiddenstruct.predict.correlations, the package attribute of that name is the module
    from hiddenstruct.predict.correlations import correlations

    out_dir.mkdir(parents=True, exist_ok=True)
    if not rows:
        raise UsageError("no finished trials to summarise; run the sweep first")
    from hiddenstruct.graphs.properties import PROPERTY_NAMES

    df = pd.DataFrame(rows)
    first = ["family", "mode", "index", "n", "graph_seed", *PROPERTY_NAMES, "test_acc", "test_loss"]
    df = df[[c for c in first if c in df.columns] + [c for c in df.columns if c not in first]]
    # a model at chance says nothing about its graph: flagged, and left out of Table 1, the
    # R² and the importances (the counts per mode go to table1_counts.csv and the heatmap)
    df["above_chance"] = df["test_acc"] > PRIORS_CHANCE + CHANCE_MARGIN
    written = {"meta-dataset": str(write_table(df, out_dir / "meta_dataset.csv"))}
    written["figure 7"] = str(figure7(df, out_dir / "figure7.png"))
    counts = chance_counts(df)
    written["table 1 counts"] = str(write_table(counts, out_dir / "table1_counts.csv"))
    learned = df[df["above_chance"]].drop(columns="above_chance")
    table = correlations(df.drop(columns="above_chance"), "test_acc", group_by="mode", notes=True)
    if len(learned):  # notes: why r is NaN
        found = correlations(learned, "test_acc", group_by="mode", notes=True)
        table = found.reindex(index=table.index, columns=table.columns)
    for mode in [c for c in table.columns if c != "notes"]:
        if mode not in set(learned["mode"]):  # undefined: every model of the mode at chance
            table[mode] = float("nan")
            reason = f"{mode}: no model beats chance"
            table["notes"] = [
                f"{n}; {reason}" if isinstance(n, str) and n else reason for n in table["notes"]
            ]
    written["table 1"] = str(write_table(table.reset_index(), out_dir / "table1_correlations.csv"))
    from hiddenstruct.experiments.plots import table1_heatmap

    n = dict(zip(counts["mode"], counts["used"], strict=True))
    written["table 1 heatmap"] = str(
        table1_heatmap(table, out_dir / "table1_correlations.png", counts=n)
    )
    df = learned
    smallest = int(df.groupby("mode").size().min()) if len(df) else 0
    if smallest >= 6:
        options = {"target": "test_acc", "group_by": "mode", "seed": seed}
        options.update(test_size=max(0.1, 2.0 / smallest), cv=_folds(smallest))
        written["R² table"] = str(
            write_table(evaluate_regressors(df, **options), out_dir / "r2.csv")
        )
        written["importances"] = str(
            write_table(feature_importances(df, **options), out_dir / "importances.csv")
        )
    else:
        written["R² table"] = (
            f"skipped: only {smallest} models above chance in a mode (need at least 6)"
        )
    return _finish(written, pd.DataFrame(rows), rows, out_dir, config)


#: Chance on the balanced Reber test sets (half valid, half invalid strings).
PRIORS_CHANCE = 0.5
#: A model counts as learning when its test accuracy beats chance by this much.
CHANCE_MARGIN = 0.05


def chance_counts(df) -> Any:
    """Per mode: graphs trained, models at chance (excluded from Table 1, R², importances), used."""
    grouped = df.groupby("mode")["above_chance"]
    counts = grouped.agg(["size", "sum"]).reset_index()
    counts = counts.rename(columns={"size": "graphs", "sum": "used"})
    counts["used"] = counts["used"].astype(int)
    counts["at_chance"] = counts["graphs"] - counts["used"]
    counts["chance"] = PRIORS_CHANCE
    counts["margin"] = CHANCE_MARGIN
    return counts[["mode", "graphs", "at_chance", "used", "chance", "margin"]]


def _finish(written, df, rows, out_dir: Path, config) -> dict[str, str]:
    """family_summary.csv (every model, at chance or not), the overlap and trial counts."""
    from hiddenstruct.predict import write_table

    summary = family_summary(df)
    written["summary"] = str(write_table(summary, out_dir / "family_summary.csv"))
    written.update(write_overlap(rows, out_dir))
    if config is not None:
        written["trials"] = f"{len(rows)}/{len(graph_trials(config))} done"
        mean_seconds = sum(r["seconds"] for r in rows) / len(rows)
        written["seconds per trial"] = f"{mean_seconds:.2f} (amortised over packs)"
    return written


def _folds(rows: int) -> int:
    """CV folds of at least 5 rows each (R² on 2-row folds is meaningless), at most 10; 0 = off."""
    folds = min(10, rows // 5)
    return folds if folds >= 2 else 0


def family_summary(df) -> Any:
    """Mean / median / sample std of test accuracy per mode and family, the graph count, how
    many of its models do not beat chance, notes."""
    from hiddenstruct import stats

    if "above_chance" not in df:
        df = df.assign(above_chance=df["test_acc"] > PRIORS_CHANCE + CHANCE_MARGIN)
    grouped = df.groupby(["mode", "family"])["test_acc"]
    summary = grouped.agg(["count", "mean", "median", "std"]).reset_index()
    low = (~df["above_chance"]).groupby([df["mode"], df["family"]]).sum()
    summary["at_chance"] = [
        int(low.loc[(m, f)]) for m, f in zip(summary["mode"], summary["family"], strict=True)
    ]
    summary["notes"] = [stats.ONE_REPEAT if n == 1 else "" for n in summary["count"]]
    return summary.rename(
        columns={
            "count": "graphs",
            "mean": "test_acc_mean",
            "median": "test_acc_median",
            "std": "test_acc_std",
        }
    )


def figure7(df, path: Path) -> Path:
    """Figure 7: see :func:`hiddenstruct.experiments.plots.figure7`."""
    from hiddenstruct.experiments.plots import figure7 as draw

    return draw(df, path)


def _short(family: str) -> str:
    return {"watts_strogatz": "WS", "barabasi_albert": "BA", "erdos_renyi": "ER"}.get(
        family, family
    )


def run_experiment(
    config: PriorsConfig, store: TrialStore, out_dir: Path, executor=None, progress: bool = True
) -> dict[str, str]:
    """Sweep, then write every output; returns label → path (or note)."""
    return write_outputs(run_sweep(config, store, executor, progress), out_dir, config)


# ---- experiment protocol (the rows of a sweep are its results) -------------------------------
trials = graph_trials
run_trial = train_pack
sweep = run_sweep


def identities(config: PriorsConfig) -> list[str]:
    """The (graph, mode) trial identities of a config, in :func:`graph_trials` order."""
    return [trial_identity(EXPERIMENT, t) for t in graph_trials(config)]


def demo_step(out_dir: Path, store: TrialStore, seed: int, threads: int = 1) -> dict[str, str]:
    """``hiddenstruct demo`` step: the ``demo`` preset (WS and BA graphs, GRU)."""
    config = PriorsConfig(**{**PRESETS["demo"], "seed": seed, "threads": threads})
    return run_experiment(config, store, out_dir, progress=False)
