"""Experiment: relational graphs (graph2nn's "graph structure of neural networks" study, docs/relational-graphs.md).

Every network's layers get block masks from a relational graph (:mod:`hiddenstruct.nn.relational`)
drawn from a WS-flex set that covers the (C, L) plane evenly
(:func:`hiddenstruct.graphs.relational.sample_graph_set`), with widths matched so each network
costs the complete graph's multiply-adds. Models: graph2nn's MLP (a dense stem, ``layers``
relational layers with BatchNorm, a dense head; digits, MNIST or CIFAR-10) and — new here — a
recurrent variant on Reber strings: the graph masks ``weight_ih`` and ``weight_hh`` of every
layer of a :class:`~hiddenstruct.nn.MaskedRNN` (any mode; each gate the same mask). One stored
trial per (model, graph, seed), the complete graph included, so a run resumes.

Outputs (:mod:`.relational_graphs_outputs`): ``results.csv``, ``graphs.csv`` (mean ± std error
per graph), ``sweet_spot.json`` (graph2nn's one-sided t-test against the best graph, the
complete graph beside the best), ``correlations.csv``, ``r2.csv``, ``heatmap_CL_<model>.png``,
``error_vs_C_<model>.png``, ``error_vs_L_<model>.png`` and ``coverage_<model>.png``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.base import Experiment, config_column, result_column
from hiddenstruct.experiments.relational_graphs.report_section import SECTION
from hiddenstruct.trials.config import (
    ExperimentConfig,
    added_defaults,
    device_setting,
    setting,
    threads_setting,
    trial_parts,
)
from hiddenstruct.trials.executors import Executor, TrialLogger, run_trials
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.preflight import check_image_data
from hiddenstruct.trials.store import TrialRecord, TrialStore

EXPERIMENT = "relational-graphs"
MODELS = ("mlp", "rnn_tanh", "rnn_relu", "gru", "lstm")
HELP = (
    "relational graphs (graph2nn): WS-flex graphs over the (C, L) plane as layer masks, equal cost"
)
DESCRIPTION = (
    "Mask the layers of graph2nn's MLP (digits by default; MNIST or CIFAR-10 with --dataset and "
    "--data-dir) and of a recurrent net on Reber strings with relational graphs — WS-flex graphs "
    "sampled evenly over clustering C and path length L — at widths matched to the complete "
    "graph's multiply-adds; find the sweet spot (graphs not significantly worse than the best, "
    "graph2nn's one-sided t-test) and how error relates to C, L and the structural properties (paper Table 1). "
    "Trials are stored (re-running resumes). Writes results.csv, graphs.csv, sweet_spot.json, "
    "correlations.csv, r2.csv and the heat map / error-vs-C / error-vs-L / coverage figures."
)

# graph2nn's CIFAR-10 normalisation (0–255 units; their code calls the order BGR but applies it
# to the channels as stored)
CIFAR_MEAN = (125.3, 123.0, 113.9)
CIFAR_SD = (63.0, 62.1, 66.7)


@dataclass(frozen=True)
class RelationalGraphsConfig(ExperimentConfig):
    """Settings of ``hiddenstruct experiment relational-graphs`` (small defaults)."""

    models: tuple[str, ...] = setting(("mlp", "gru"), "networks to mask", choices=MODELS)
    nodes: int = setting(16, "relational graph nodes n", low=3)
    resolution: int = setting(
        12, "bins per axis of the (C, L) grid, one graph per bin (graph2nn: 15 → 52 graphs)", low=1
    )
    l_max: float = setting(
        0.0,
        "top of the L axis (0: graph2nn's 4.5 for 64 nodes, 2.5 for 16, else the pool's)",
        low=0,
    )
    max_graphs: int = setting(12, "graphs of the set used, drawn evenly (0: all)", low=0)
    graph_seed: int = setting(0, "seed picking each bin's graph and the subset", low=0)
    repeats: int = setting(2, "training seeds per graph; seeds seed, seed+1, …", low=1)
    seed: int = setting(0, "first training seed", low=0)
    dataset: str = setting(
        "digits",
        "MLP data: digits (embedded), mnist or cifar10",
        choices=("digits", "mnist", "cifar10"),
    )
    data_dir: str | None = setting(None, "folder holding mnist/ or cifar10 batches", runtime=True)
    eval_split: str = setting(
        "test",
        "split the error is measured on (val: a seeded hold-out of the training data)",
        choices=("test", "val"),
    )
    train_size: int = setting(0, "training examples used, a fixed seeded subset (0: all)", low=0)
    width: int = setting(64, "MLP base width (the complete graph's; also the stem's width)", low=1)
    layers: int = setting(
        3, "relational layers of the MLP (graph2nn: 3, plus stem and head)", low=1
    )
    epochs: int = setting(15, "MLP training epochs", low=1)
    batch_size: int = setting(128, "MLP batch size", low=1)
    lr: float = setting(
        0.1, "MLP SGD learning rate (cosine schedule per epoch)", low=0, low_open=True
    )
    momentum: float = setting(0.9, "MLP SGD Nesterov momentum", low=0, high=1)
    weight_decay: float = setting(5e-4, "MLP weight decay", low=0)
    augment: bool = setting(True, "CIFAR-10: random crop (pad 4) and horizontal flip as graph2nn")
    reber_n: int = setting(1000, "Reber strings (train + test)", low=20)
    embedding: int = setting(16, "recurrent input (embedding) size; at least the nodes", low=1)
    hidden: int = setting(32, "recurrent base hidden size (the complete graph's)", low=1)
    rnn_layers: int = setting(1, "recurrent layers", low=1)
    reber_epochs: int = setting(8, "recurrent training epochs", low=1)
    reber_batch_size: int = setting(16, "recurrent batch size", low=1)
    reber_lr: float = setting(3e-2, "recurrent Adam learning rate", low=0, low_open=True)
    device: str = device_setting()
    threads: int = threads_setting()


def check_widths(config: RelationalGraphsConfig) -> None:
    """UsageError (before any trial runs) when a layer is narrower than the graph's nodes."""
    if "mlp" in config.models and config.width < config.nodes:
        raise UsageError(
            f"--width {config.width} is below --nodes {config.nodes}: every node needs a neuron"
        )
    if set(config.models) - {"mlp"} and min(config.embedding, config.hidden) < config.nodes:
        raise UsageError(
            f"--embedding {config.embedding} and --hidden {config.hidden} must be at least "
            f"--nodes {config.nodes}: every node needs a neuron"
        )


Config = RelationalGraphsConfig

PRESETS: dict[str, dict[str, Any]] = {
    "small": {},
    # graph2nn's MLP setting (configs/baselines/cifar10/mlp_bs128_1gpu_layer3.yaml with 200
    # epochs and seeds 1–5 as their yaml_gen.py writes them); our sampler's 15 × 15 set
    # stands in for their graphs_n64_52.npy
    "paper": dict(
        models=("mlp",), nodes=64, resolution=15, l_max=4.5, max_graphs=0, repeats=5, seed=1,
        dataset="cifar10", width=512, layers=3, epochs=200, batch_size=128, lr=0.1,
        momentum=0.9, weight_decay=5e-4, augment=True,
    ),
    "demo": dict(
        models=("mlp", "gru"), nodes=8, resolution=6, max_graphs=4, repeats=2, width=32,
        layers=2, epochs=6, train_size=0, reber_n=400, embedding=8, hidden=16, reber_epochs=6,
    ),
}  # fmt: skip

_MLP_KEYS = (
    "dataset", "eval_split", "train_size", "width", "layers", "epochs", "batch_size", "lr",
    "momentum", "weight_decay", "augment",
)  # fmt: skip
_RNN_KEYS = (
    "reber_n",
    "embedding",
    "hidden",
    "rnn_layers",
    "reber_epochs",
    "reber_batch_size",
    "reber_lr",
)


def graph_set(config: RelationalGraphsConfig):
    """The WS-flex graphs of a config (without the complete graph)."""
    from hiddenstruct.graphs.relational import sample_graph_set, subsample

    specs = sample_graph_set(
        config.nodes, config.resolution, config.l_max or None, seed=config.graph_seed
    )
    return subsample(specs, config.max_graphs, config.graph_seed)


def trials(config: RelationalGraphsConfig) -> list[dict[str, Any]]:
    """One trial per (model, graph, seed); the complete graph (``k = n − 1``) is graph 0."""
    sweep = ("models", "resolution", "l_max", "max_graphs", "graph_seed", "repeats", "seed")
    common, runtime = trial_parts(config, sweep)
    n = config.nodes
    graphs = [{"graph": "complete", "k": float(n - 1), "p": 0.0, "graph_seed": 0}]
    graphs += [
        {"graph": "ws_flex", "k": g.k, "p": g.p, "graph_seed": g.seed} for g in graph_set(config)
    ]
    out = []
    for repeat in range(config.repeats):
        for model in config.models:
            other = _RNN_KEYS if model == "mlp" else _MLP_KEYS
            settings = {k: v for k, v in common.items() if k not in other}
            for graph in graphs:
                out.append(
                    {**settings, **graph, "model": model, "seed": config.seed + repeat,
                     "runtime": dict(runtime)}
                )  # fmt: skip
    return out


def _graph(cfg: dict[str, Any]):
    import networkx as nx

    from hiddenstruct.graphs.relational import ws_flex_graph

    if cfg["graph"] == "complete":
        return nx.complete_graph(cfg["nodes"])
    return ws_flex_graph(cfg["nodes"], cfg["k"], cfg["p"], cfg["graph_seed"])


class _Batches:
    """Shuffled mini-batches of in-memory tensors, augmented per batch (CIFAR-10: graph2nn's
    random crop with 4-pixel zero padding and horizontal flip with probability 0.5).
    ``augment=None`` marks evaluation batches (no augmentation, no batch dropped)."""

    def __init__(self, x, y, batch_size: int, seed: int, augment: bool | None) -> None:
        import torch

        self.x, self.y, self.batch_size, self.augment = x, y, batch_size, augment
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def _augment(self, x):
        import torch

        b = len(x)
        flip = torch.rand(b, generator=self.generator) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
        dy = torch.randint(0, 9, (b,), generator=self.generator)
        dx = torch.randint(0, 9, (b,), generator=self.generator)
        rows = (dy[:, None] + torch.arange(32))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(32))[:, None, None, :]
        return padded[
            torch.arange(b)[:, None, None, None], torch.arange(3)[None, :, None, None], rows, cols
        ]

    def __iter__(self):
        import torch

        order = torch.randperm(len(self.x), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            if self.augment is not None and len(idx) == 1 and len(order) > 1:
                continue  # BatchNorm cannot train on one example: drop a last batch of one
            x = self.x[idx]
            yield (self._augment(x) if self.augment else x), self.y[idx]


def _image_data(cfg: dict[str, Any]):
    """(train x, train y, eval x, eval y, input size, classes), normalised."""
    import numpy as np
    import torch

    from hiddenstruct.data.images import image_dataset_info, load_image_arrays

    name, data_dir = cfg["dataset"], cfg.get("runtime", {}).get("data_dir")
    info = image_dataset_info(name)
    x, y = load_image_arrays(name, data_dir, "train", seed=0)
    ex, ey = load_image_arrays(name, data_dir, cfg["eval_split"], seed=0)
    if cfg["train_size"] and cfg["train_size"] < len(x):
        keep = np.sort(np.random.default_rng(0).choice(len(x), cfg["train_size"], replace=False))
        x, y = x[keep], y[keep]
    x = torch.from_numpy(np.ascontiguousarray(x)).float()
    ex = torch.from_numpy(np.ascontiguousarray(ex)).float()
    if name == "cifar10":
        mean = torch.tensor(CIFAR_MEAN)[None, :, None, None]
        sd = torch.tensor(CIFAR_SD)[None, :, None, None]
    else:  # our choice: the training data's global mean and std
        mean, sd = x.mean(), x.std()
    x, ex = (x - mean) / sd, (ex - mean) / sd
    label = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))  # noqa: E731
    return x, label(y), ex, label(ey), int(np.prod(info.shape)), info.num_classes


def _width_and_baseline(cfg: dict[str, Any], graph, input_size: int, classes: int, gates: int = 0):
    """(matched width, its multiply-adds, the complete graph's multiply-adds)."""
    from functools import partial

    from hiddenstruct.nn.relational import match_width, mlp_macs, rnn_macs

    if cfg["model"] == "mlp":
        base = cfg["width"]
        macs = partial(
            mlp_macs, input_size=input_size, first=base, layers=cfg["layers"], classes=classes
        )
        baseline = macs(None, width=base)
    else:
        base = cfg["hidden"]
        macs = partial(rnn_macs, input_size=cfg["embedding"], layers=cfg["rnn_layers"], gates=gates, classes=classes)  # fmt: skip
        baseline = macs(None, hidden=base)
    key = "width" if cfg["model"] == "mlp" else "hidden"
    width = match_width(lambda w: macs(graph, **{key: w}), baseline, base)
    return width, macs(graph, **{key: width}), baseline


def _fit(
    model, batches, epochs: int, optimizer, scheduler, device, clip: float | None = None
) -> float:
    """Train; the last epoch's mean training loss. A non-finite loss is an error."""
    import torch

    loss_fn = torch.nn.CrossEntropyLoss()
    last = math.nan
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        for batch in batches:
            *inputs, target = (t.to(device) for t in batch)
            loss = loss_fn(model(*inputs), target)
            if not torch.isfinite(loss):
                raise RuntimeError(f"training diverged: loss {loss.item()}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            total += loss.item() * len(target)
            count += len(target)
        if scheduler is not None:
            scheduler.step()
        last = total / max(count, 1)
    return last


def _accuracy(model, batches, device) -> float:
    import torch

    model.eval()
    correct = count = 0
    with torch.no_grad():
        for batch in batches:
            *inputs, target = (t.to(device) for t in batch)
            correct += int((model(*inputs).argmax(1) == target).sum())
            count += len(target)
    return correct / max(count, 1)


def run_trial(cfg: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
    """Train one model masked by one graph with one seed; error, width, cost, C, L, properties."""
    import torch

    from hiddenstruct.graphs.properties import properties
    from hiddenstruct.graphs.relational import clustering_and_path_length
    from hiddenstruct.training import seed_everything
    from hiddenstruct.training.seeding import resolve_device

    device = resolve_device(cfg.get("runtime", {}).get("device", "auto"))
    graph = _graph(cfg)
    C, L = clustering_and_path_length(graph)
    seed_everything(cfg["seed"])
    start = time.perf_counter()
    masked = None if cfg["graph"] == "complete" else graph
    if cfg["model"] == "mlp":
        from hiddenstruct.nn.relational import RelationalMLP

        x, y, ex, ey, input_size, classes = _image_data(cfg)
        width, macs, baseline = _width_and_baseline(cfg, masked, input_size, classes)
        model = RelationalMLP(input_size, classes, masked, cfg["width"], width, cfg["layers"])
        model.to(device)
        train = _Batches(
            x, y, cfg["batch_size"], cfg["seed"], cfg["dataset"] == "cifar10" and cfg["augment"]
        )
        evaluation = _Batches(ex, ey, 1000, 0, None)  # None: evaluation, keeps every example
        optimizer = torch.optim.SGD(
            model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
            nesterov=cfg["momentum"] > 0, weight_decay=cfg["weight_decay"],
        )  # fmt: skip
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg["epochs"])
        train_loss = _fit(model, train, cfg["epochs"], optimizer, scheduler, device)
    else:
        from torch.utils.data import DataLoader

        from hiddenstruct.data.reber_torch import VOCAB_SIZE, load_reber_splits, reber_collate
        from hiddenstruct.nn import MaskedRNN, SequenceClassifier
        from hiddenstruct.nn.relational import mask_rnn
        from hiddenstruct.recurrent_modes import get_mode

        gates = get_mode(cfg["model"]).gates
        width, macs, baseline = _width_and_baseline(cfg, masked, cfg["embedding"], 2, gates)
        rnn = MaskedRNN(cfg["embedding"], [width] * cfg["rnn_layers"], cfg["model"])
        if masked is not None:
            mask_rnn(rnn, masked)
        model = SequenceClassifier(rnn, vocab_size=VOCAB_SIZE).to(device)
        train_ds, test_ds = load_reber_splits(cfg["reber_n"], seed=0)
        g = torch.Generator().manual_seed(cfg["seed"])
        train = DataLoader(train_ds, batch_size=cfg["reber_batch_size"], shuffle=True,
                           collate_fn=reber_collate, generator=g)  # fmt: skip
        evaluation = DataLoader(test_ds, batch_size=512, collate_fn=reber_collate)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg["reber_lr"])
        train_loss = _fit(model, train, cfg["reber_epochs"], optimizer, None, device, clip=5.0)
    accuracy = _accuracy(model, evaluation, device)
    seconds = time.perf_counter() - start
    log.metric(0, train_loss=train_loss, accuracy=accuracy)
    return {
        "error": 100.0 * (1.0 - accuracy),
        "accuracy": accuracy,
        "train_loss": train_loss,
        "width": width,
        "macs": macs,
        "baseline_macs": baseline,
        "C": C,
        "L": L,
        "edges": graph.number_of_edges(),
        "seconds": seconds,
        "properties": {k: float(v) for k, v in properties(graph).items()},
    }


def sweep(
    config: RelationalGraphsConfig,
    store: TrialStore,
    executor: Executor | None = None,
    progress: bool = True,
) -> list[TrialRecord]:
    """Run (or resume) every trial."""
    check_widths(config)
    added = added_defaults(type(config))
    return run_trials(
        EXPERIMENT, trials(config), run_trial, store, executor, progress=progress, added=added
    )


def identities(config: RelationalGraphsConfig) -> list[str]:
    """The trial identities of a config, in :func:`trials` order."""
    added = added_defaults(type(config))
    return [trial_identity(EXPERIMENT, t, added) for t in trials(config)]


def write_outputs(
    records: list[TrialRecord], out_dir: Path, config: RelationalGraphsConfig | None = None
) -> dict[str, str]:
    """Tables and figures (see :mod:`.relational_graphs_outputs`)."""
    from hiddenstruct.experiments.relational_graphs import outputs as out

    return out.write_outputs(records, out_dir, config)


class RelationalGraphs(Experiment):
    """relational-graphs: graph2nn's study of relational graphs as layer masks at equal cost
    (docs/relational-graphs.md). Demo: digits MLP and a Reber GRU, 8-node graphs."""

    name = EXPERIMENT
    help = HELP
    description = DESCRIPTION
    config_type = RelationalGraphsConfig
    presets = PRESETS
    report_section = SECTION
    list_columns = {
        "model": config_column("model"),
        "graph": config_column("graph"),
        "k": config_column("k"),
        "p": config_column("p"),
        "seed": config_column("seed"),
        "width": result_column("width"),
        "error %": result_column("error"),
    }

    def trials(self, config: RelationalGraphsConfig) -> list[dict[str, Any]]:
        return trials(config)

    def run_trial(self, trial: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
        return run_trial(trial, log)

    def sweep(self, config, store, executor=None, progress=True) -> list[TrialRecord]:
        return sweep(config, store, executor, progress)

    def write_outputs(self, results, out_dir: Path, config=None) -> dict[str, str]:
        return write_outputs(results, out_dir, config)

    def check_data(self, config: RelationalGraphsConfig) -> None:
        if "mlp" in config.models:
            check_image_data(config.dataset, config.data_dir, ("train", config.eval_split))


RELATIONAL_GRAPHS = RelationalGraphs()
