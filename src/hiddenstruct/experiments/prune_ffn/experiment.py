"""Experiment: pruning feed-forward networks (paper §4.1, Figure 2a).

ReLU MLPs (784-100-10 and 784-300-100-10 on MNIST, or 64-… on the embedded digits) are
trained, then pruned iteratively by five methods — random, magnitude class-blinded,
class-uniform, class-distributed and Optimal Brain Damage — with a relative or fixed-size
schedule, with and without retraining after each step. Every (architecture, method,
schedule, retraining, repeat) is one trial in the store (experiment ``prune-ffn``), so an
interrupted run resumes. Steps are clipped to land exactly on 50/60/80/90/95 % removed.

Outputs in ``out_dir``: ``curves.csv`` (every step of every trial), ``table.csv`` (test
accuracy at 50/60/80/90/95 % removed, mean ± std over repeats, with/without retraining),
``figure2a_<arch>_<schedule>.png``/``.svg`` (accuracy vs. % removed, mean ± std band per
method, without / with retraining side by side).
"""

from __future__ import annotations

import copy
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.base import Experiment, config_column, result_column
from hiddenstruct.experiments.prune_ffn.config import (  # noqa: F401  (re-exported)
    BASE_EXPERIMENT,
    EXPERIMENT,
    METHODS,
    PRESETS,
    SCHEDULE_NAMES,
    TABLE_POINTS,
    PruneFFNConfig,
    base_config,
    trial_configs,
)
from hiddenstruct.experiments.prune_ffn.outputs import write_outputs
from hiddenstruct.experiments.prune_ffn.report_section import SECTION
from hiddenstruct.outputs import write_with
from hiddenstruct.trials.artifacts import load_artifact, save_pruning_level
from hiddenstruct.trials.config import added_defaults
from hiddenstruct.trials.executors import Executor, TrialLogger, run_trials
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.preflight import check_image_data
from hiddenstruct.trials.shared import run_shared
from hiddenstruct.trials.store import TrialRecord, TrialStore

Config = PruneFFNConfig
HELP = "prune MLPs with five methods: Figure 2a and accuracy table at 50-95 % removed"
DESCRIPTION = (
    "Train ReLU MLPs (hidden 100 and 300-100) on digits (default) or MNIST "
    "(--dataset mnist --data-dir DIR), then prune iteratively with random, magnitude "
    "class-blinded / class-uniform / class-distributed and Optimal Brain Damage, with and "
    "without retraining after each step. Each base model is a trial of its own, trained once "
    "per store and shared by every method. Trials are stored (re-running resumes). Writes "
    "curves.csv, table.csv and figure2a_<arch>_<schedule>.png into --output."
)


@lru_cache(maxsize=8)
def _datasets(dataset: str, data_dir: str | None, train_subset: int | None, seed: int):
    import torch
    from torch.utils.data import Subset

    from hiddenstruct.data.images import load_image_dataset

    train_ds = load_image_dataset(dataset, data_dir, "train", flatten=True, seed=seed)
    if train_subset is not None and train_subset < len(train_ds):
        order = torch.randperm(len(train_ds), generator=torch.Generator().manual_seed(seed))
        train_ds = Subset(train_ds, order[:train_subset].tolist())
    val_ds = load_image_dataset(dataset, data_dir, "val", flatten=True, seed=seed)
    test_ds = load_image_dataset(dataset, data_dir, "test", flatten=True, seed=seed)
    return train_ds, val_ds, test_ds


def _loaders(cfg: dict[str, Any]):
    import torch
    from torch.utils.data import DataLoader, Subset

    data_dir = cfg.get("runtime", {}).get("data_dir")
    train_ds, val_ds, test_ds = _datasets(cfg["dataset"], data_dir, cfg["train_subset"], 0)
    g = torch.Generator().manual_seed(cfg["seed"])
    train = DataLoader(train_ds, batch_size=cfg["batch_size"], shuffle=True, generator=g)
    val = DataLoader(val_ds, batch_size=1024)
    test = DataLoader(test_ds, batch_size=1024)
    n_obd = min(cfg.get("obd_samples", 0), len(train_ds))
    obd = DataLoader(Subset(train_ds, range(n_obd)), batch_size=256)
    return train, val, test, obd


def _device(cfg: dict[str, Any]):
    from hiddenstruct.training.seeding import resolve_device

    return resolve_device(cfg.get("runtime", {}).get("device", "auto"))


class _Patience:
    """Callback stopping training when validation accuracy has not improved for ``patience`` epochs."""

    def __init__(self, patience: int) -> None:
        self.patience, self.best, self.waited = patience, -math.inf, 0

    def __call__(self, metrics, model) -> bool:
        if metrics.monitored_accuracy > self.best:
            self.best, self.waited = metrics.monitored_accuracy, 0
        else:
            self.waited += 1
        return self.waited >= self.patience


def train_base(model, train_loader, val_loader, cfg: dict[str, Any], device) -> None:
    """Train the unpruned model (optionally with LR decay and early stopping at convergence)."""
    import torch

    from hiddenstruct.training import train

    scheduler, callbacks = None, ()
    if cfg.get("lr_decay"):
        lr = cfg["lr"]

        def scheduler(opt):
            return torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, factor=0.1, patience=3, min_lr=lr / 100
            )

        callbacks = (_Patience(cfg["patience"]),)
    train(
        model,
        train_loader,
        epochs=cfg["epochs"],
        optimizer=cfg["optimizer"],
        lr=cfg["lr"],
        val_loader=val_loader,
        device=device,
        progress=False,
        scheduler=scheduler,
        callbacks=callbacks,
        clip_grad_norm=cfg.get("clip_grad_norm"),
    )


def _mlp(cfg: dict[str, Any]):
    from hiddenstruct.data.images import image_dataset_info
    from hiddenstruct.nn import MaskedDeepFFN

    info = image_dataset_info(cfg["dataset"])
    return MaskedDeepFFN(info.input_size, info.num_classes, list(cfg["hidden"]))


def base_trial(cfg: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
    """Shared trial: train the unpruned MLP of one (architecture, seed); its state_dict is an artifact."""
    import torch

    from hiddenstruct.training import evaluate

    device = _device(cfg)
    train_loader, val_loader, test_loader, _ = _loaders(cfg)
    model = _mlp(cfg)
    train_base(model, train_loader, val_loader, cfg, device)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    path = log.artifact_file("base") or Path(cfg["runtime"]["artifact_dir"]) / f"{log.hash}-base.pt"
    write_with(path, lambda tmp: torch.save(state, tmp))
    log.artifact("state_dict", path)
    return {"test_accuracy": evaluate(model, test_loader, device).accuracy}


def attach_bases(
    trials: list[dict[str, Any]],
    store: TrialStore,
    executor: Executor | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run the distinct base trials (once per store) and point each pruning trial at its base."""
    bases = [base_config(t) for t in trials]
    added = {"threads": 1}  # base trials stored before --threads existed ran at its default
    shared = run_shared(BASE_EXPERIMENT, bases, base_trial, store, executor, progress, added)
    out = []
    for trial, base in zip(trials, bases, strict=True):
        result, artifacts = shared[trial_identity(BASE_EXPERIMENT, base, added)]
        link = {"state_dict": artifacts["state_dict"], "test_accuracy": result["test_accuracy"]}
        out.append({**trial, "runtime": {**trial["runtime"], "base": link}})
    return out


def ffn_trial(cfg: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
    """One trial: load the shared base MLP, prune iteratively, record every step."""

    from hiddenstruct.nn.masking import load_state_dict
    from hiddenstruct.pruning import (
        RetrainPolicy,
        StopCriteria,
        fixed_size,
        iterative_prune,
        relative,
    )
    from hiddenstruct.training.optim import make_optimizer
    from hiddenstruct.training.retrain import retrain_hooks

    device = _device(cfg)
    base = cfg.get("runtime", {}).get("base")
    if base is None:
        raise UsageError("a prune-ffn trial needs its base model: run it through attach_bases")
    state = load_artifact(base["state_dict"])  # names the file and the cause when it fails
    base_test = base["test_accuracy"]
    model = _mlp(cfg)
    load_state_dict(model, copy.deepcopy(state))
    model.to(device)
    train_loader, _, test_loader, obd_loader = _loaders(cfg)
    total = sum(layer.weight.numel() for layer in model.layers)
    schedule = (
        relative(cfg["relative_p"])
        if cfg["schedule"] == "relative"
        else fixed_size(max(1, round(cfg["fixed_fraction"] * total)))
    )
    optimizer = make_optimizer(cfg["optimizer"], model.parameters(), cfg["retrain_lr"] or cfg["lr"])
    train_epoch, accuracy = retrain_hooks(train_loader, test_loader, optimizer, device)
    criterion, selection = METHODS[cfg["method"]]
    points = [
        {"step": 0, "zero_fraction": 0.0, "accuracy_pruned": base_test, "accuracy": base_test}
    ]
    details: dict[str, Any] = {}

    def on_step(step) -> None:
        details.update(step.details)
        point = {
            "step": step.step + 1,
            "zero_fraction": step.zero_fraction,
            "accuracy_pruned": step.accuracy_pruned,
            "accuracy": step.accuracy,
        }
        points.append(point)
        log.metric(step.step + 1, zero_fraction=step.zero_fraction, accuracy=step.accuracy)
        path = log.artifact_file(f"level_{step.step + 1:03d}")
        if path is not None:  # masks bit-packed, weights only where they left the base's
            log.artifact(path.stem, save_pruning_level(path, model, state))

    log.artifact("base", base["state_dict"])
    iterative_prune(
        model,
        criterion,
        selection,
        schedule,
        data=obd_loader,
        seed=cfg["seed"],
        stop=StopCriteria(target_zero_fraction=cfg["max_zero_fraction"], max_steps=1000),
        evaluate=accuracy,
        train_epoch=train_epoch,
        retrain_policy=RetrainPolicy("fixed", cfg["retrain_epochs"]) if cfg["retrain"] else None,
        criterion_options={"method": cfg["obd_method"]} if criterion == "obd" else None,
        on_step=on_step,
        checkpoints=TABLE_POINTS,
    )
    return {
        "base_accuracy": base_test,
        "total_weights": total,
        "points": points,
        "criterion_details": {k: v for k, v in details.items() if isinstance(v, (str, int, float))},
    }


# ---- experiment protocol ---------------------------------------------------------------------
def sweep(
    config: PruneFFNConfig,
    store: TrialStore,
    executor: Executor | None = None,
    progress: bool = True,
    trials: list[dict[str, Any]] | None = None,
) -> list[TrialRecord]:
    """Base models first (each once, only for unfinished trials), then every pruning trial;
    ``trials``: :func:`trial_configs`'s list when already built."""
    planned = trial_configs(config) if trials is None else trials
    hashes = identities(config, planned)
    done = {r.hash for r in store.trials(EXPERIMENT, status="done")}
    todo = [t for t, h in zip(planned, hashes, strict=True) if h not in done]
    linked = iter(attach_bases(todo, store, executor, progress) if todo else [])
    ready = [t if h in done else next(linked) for t, h in zip(planned, hashes, strict=True)]
    added = added_defaults(type(config))
    return run_trials(EXPERIMENT, ready, ffn_trial, store, executor, progress=progress, added=added)


def identities(config: PruneFFNConfig, trials: list[dict[str, Any]] | None = None) -> list[str]:
    """The trial identities of a config, in :func:`trial_configs` order (``trials``: that list
    when already built)."""
    added = added_defaults(type(config))
    planned = trial_configs(config) if trials is None else trials
    return [trial_identity(EXPERIMENT, t, added) for t in planned]


def accuracy_at(fraction: float):
    """A ``list_columns`` entry: the accuracy at ``fraction`` of the weights removed."""

    def get(t) -> Any:
        points = (t.result or {}).get("points") or []
        hits = [p["accuracy"] for p in points if abs(p.get("zero_fraction", -1) - fraction) < 1e-3]
        return hits[0] if hits else None

    return get


class PruneFFN(Experiment):
    """prune-ffn (paper §4.1): base MLPs trained once, pruned by five methods. Demo: digits,
    64-100-10, five methods, one repeat."""

    name = EXPERIMENT
    help = HELP
    description = DESCRIPTION
    config_type = PruneFFNConfig
    presets = PRESETS
    report_section = SECTION
    paper_scale = (
        ("data set", "dataset", "value", "mnist"),
        ("hidden layers", "hidden", "set", "architectures"),
        ("epochs", "epochs", "value", "epochs"),
        ("repeats", "repeat", "count", "repeats"),
    )
    list_columns = {
        "architecture": lambda t: "-".join(map(str, t.config.get("hidden", []))),
        "method": config_column("method"),
        "schedule": config_column("schedule"),
        "retrain": config_column("retrain"),
        "seed": config_column("seed"),
        "base acc": result_column("base_accuracy"),
        "acc@90%": accuracy_at(0.9),
    }

    trials = staticmethod(trial_configs)
    run_trial = staticmethod(ffn_trial)
    sweep = staticmethod(sweep)
    write_outputs = staticmethod(write_outputs)

    def check_data(self, config: PruneFFNConfig) -> None:
        check_image_data(config.dataset, config.data_dir, ("train", "test"))


PRUNE_FFN = PruneFFN()
