"""Settings of the relational-graphs experiment: its config, presets, graph set and trials.

One stored trial per (model, graph, seed); the complete graph (``k = n − 1``) is graph 0 of
every model and seed. The trial runner is :mod:`.trial`, the tables and figures :mod:`.outputs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hiddenstruct.errors import UsageError
from hiddenstruct.trials.config import trial_parts
from hiddenstruct.trials.settings import ExperimentConfig, device_setting, setting, threads_setting

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
        layers=2, epochs=6, train_size=0, reber_n=1200, embedding=8, hidden=16, reber_epochs=12,
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


#: graph2nn's published 5-layer MLP on CIFAR-10 (their analysis notebook, 3 942 graphs, 5 seeds,
#: 200 epochs; top-1 error %, mean ± std over seeds with NumPy's default ddof 0)
GRAPH2NN_MLP = {
    "complete_error": (33.34, 0.36),
    "best_error": (32.05, 0.14),
    "sweet_spot_C": (0.0907, 0.7187),
    "sweet_spot_L": (1.633, 3.042),
    "graphs": 3942,
    "seeds": 5,
    "epochs": 200,
}
