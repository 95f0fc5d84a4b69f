"""Settings of the sparse-routes experiment: its config type, presets and trials (one per
model, route, density and repeat); :mod:`.experiment` describes the protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hiddenstruct.experiments.reber_inputs import unique_setting
from hiddenstruct.graphs._property_common import PROPERTY_NAMES
from hiddenstruct.sparse_training.route_names import ROUTES
from hiddenstruct.trials.config import repeated_trials, trial_parts
from hiddenstruct.trials.settings import ExperimentConfig, device_setting, setting, threads_setting

EXPERIMENT = "sparse-routes"
MODELS = ("lenet", "reber_gru")
HELP = (
    "routes to sparse structure (pruning, priors, L1, SET, RigL, sparse momentum) at equal density"
)
DESCRIPTION = (
    "Make LeNet-300-100 (digits by default; MNIST with --dataset mnist --data-dir DIR) and the "
    "Reber GRU classifier sparse by each route — iterative magnitude pruning with retraining, "
    "static uniform / ERK priors, L1 + threshold, SET, RigL, sparse momentum — at each final "
    "density, with repeats, and compare accuracy, training cost and the final networks' graph "
    "properties and their topology distance. Trials are stored (re-running resumes). Writes "
    "results.csv, accuracy.csv, properties.csv, correlations.csv, topology.csv, "
    "accuracy_<model>.png, trajectory_<model>.png and topology_<model>.png."
)
TRAJECTORY_PROPERTY = "average_shortest_path_length"


@dataclass(frozen=True)
class SparseRoutesConfig(ExperimentConfig):
    """Settings of ``hiddenstruct experiment sparse-routes`` (small defaults)."""

    models: tuple[str, ...] = setting(MODELS, "network families to compare", choices=MODELS)
    routes: tuple[str, ...] = setting(ROUTES, "routes to sparse structure", choices=ROUTES)
    densities: tuple[float, ...] = setting(
        (0.1, 0.05, 0.02),
        "final densities (fraction of weights kept)",
        low=0,
        high=1,
        low_open=True,
    )
    repeats: int = setting(2, "repeats per (model, route, density); seeds seed, seed+1, …", low=1)
    seed: int = setting(0, "first seed", low=0)
    dataset: str = setting(
        "digits", "LeNet's data: digits (embedded) or mnist", choices=("digits", "mnist")
    )
    data_dir: str | None = setting(
        None, "folder holding mnist/ (for --dataset mnist)", runtime=True
    )
    hidden: tuple[int, ...] = setting((300, 100), "LeNet hidden layer sizes", low=1)
    epochs: int = setting(10, "training epochs (pruning: dense epochs before pruning)", low=1)
    batch_size: int = setting(100, "batch size", low=1)
    lr: float = setting(1e-3, "Adam learning rate", low=0, low_open=True)
    reber_n: int = setting(2000, "Reber strings (train + test)", low=20)
    reber_hidden: tuple[int, ...] = setting((50, 50), "GRU hidden layer sizes", low=1)
    reber_embedding: int = setting(20, "GRU input (embedding) size", low=1)
    reber_epochs: int = setting(10, "Reber training epochs", low=1)
    reber_batch_size: int = setting(32, "Reber batch size", low=1)
    unique: bool | None = unique_setting()
    prune_fraction: float = setting(
        0.5,
        "pruning: fraction of remaining weights per step",
        low=0,
        high=1,
        low_open=True,
        high_open=True,
    )
    retrain_epochs: int = setting(1, "pruning: retraining epochs after each step", low=0)
    l1_strength: float = setting(1e-4, "L1: penalty strength", low=0)
    l1_threshold: float = setting(1e-3, "L1: magnitude threshold applied each epoch", low=0)
    finetune_epochs: int = setting(1, "L1: epochs after the final cut to the density", low=0)
    update_every: int = setting(
        100, "SET/RigL/sparse momentum: steps between mask updates (ΔT)", low=1
    )
    track_every: int = setting(1, "structure record every this many mask updates", low=1)
    include_io: bool = setting(
        True, "graph properties of the whole network (inputs and outputs too), not hidden only"
    )
    trajectory_property: str = setting(
        TRAJECTORY_PROPERTY,
        "graph property (or xi) drawn in trajectory_<model>.png",
        choices=("xi", *PROPERTY_NAMES),
    )
    threads: int = threads_setting()
    device: str = device_setting()


Config = SparseRoutesConfig

PRESETS: dict[str, dict[str, Any]] = {
    "small": {},
    # our choice: MNIST (the anchors' data set), 3 repeats, 30 epochs (the anchors train 100);
    # the Reber data at the paper's 25 000 strings (§4.2)
    "paper": dict(
        dataset="mnist", epochs=30, repeats=3, reber_n=25_000, reber_epochs=30, track_every=6
    ),
    # toy scale, our choice (measured; docs/experiments.md): 2 epochs of LeNet 64-64-10 (about 20 steps) and one
    # epoch of 90 Reber strings left SET / RigL / static at 0.11-0.15 and every Reber route at
    # 0.500; 15 epochs each, wider layers (10 % of them still learns) and 1 200 strings learn
    "demo": dict(
        densities=(0.1,),
        repeats=1,
        hidden=(128,),
        epochs=15,
        lr=5e-3,
        batch_size=64,
        reber_n=1200,
        reber_hidden=(64,),
        reber_embedding=8,
        reber_epochs=15,
        update_every=20,
    ),  # fmt: skip
}


def trials(config: SparseRoutesConfig) -> list[dict[str, Any]]:
    """One trial per (model, route, density, repeat)."""
    sweep = ("models", "routes", "densities", "repeats", "seed", "trajectory_property")
    axes = {"model": config.models, "density": config.densities, "route": config.routes}
    return repeated_trials(
        config, trial_parts(config, sweep), axes,
        lambda common, model, density, route: {
            **_model_settings(common, model),
            "model": model,
            "route": route,
            "density": density,
        },
    )  # fmt: skip


_LENET_KEYS = ("dataset", "hidden", "epochs", "batch_size")
_REBER_KEYS = (
    "reber_n", "reber_hidden", "reber_embedding", "reber_epochs", "reber_batch_size", "unique",
)  # fmt: skip


def _model_settings(common: dict[str, Any], model: str) -> dict[str, Any]:
    """Drop the other family's settings, so changing them does not rename this one's trials."""
    other = _REBER_KEYS if model == "lenet" else _LENET_KEYS
    return {k: v for k, v in common.items() if k not in other}
