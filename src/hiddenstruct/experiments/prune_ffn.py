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
import csv
import math
import os
import tempfile
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from hiddenstruct.data.images import image_dataset_info, load_image_dataset
from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.executors import Executor, TrialLogger, run_trials
from hiddenstruct.experiments.prune_settings import (  # noqa: F401  (re-exported)
    EXPERIMENT,
    METHODS,
    SCHEDULE_NAMES,
    TABLE_POINTS,
    PruneFFNConfig,
    trial_configs,
)
from hiddenstruct.experiments.store import TrialStore
from hiddenstruct.nn import MaskedDeepFFN
from hiddenstruct.nn.masking import load_state_dict
from hiddenstruct.pruning import RetrainPolicy, StopCriteria, fixed_size, iterative_prune, relative
from hiddenstruct.training import evaluate, seed_everything, train
from hiddenstruct.training.optim import make_optimizer


@lru_cache(maxsize=8)
def _datasets(dataset: str, data_dir: str | None, train_subset: int | None, seed: int):
    train_ds = load_image_dataset(dataset, data_dir, "train", flatten=True, seed=seed)
    if train_subset is not None and train_subset < len(train_ds):
        order = torch.randperm(len(train_ds), generator=torch.Generator().manual_seed(seed))
        train_ds = Subset(train_ds, order[:train_subset].tolist())
    val_ds = load_image_dataset(dataset, data_dir, "val", flatten=True, seed=seed)
    test_ds = load_image_dataset(dataset, data_dir, "test", flatten=True, seed=seed)
    return train_ds, val_ds, test_ds


def _loaders(cfg: dict[str, Any]):
    train_ds, val_ds, test_ds = _datasets(cfg["dataset"], cfg["data_dir"], cfg["train_subset"], 0)
    g = torch.Generator().manual_seed(cfg["seed"])
    train = DataLoader(train_ds, batch_size=cfg["batch_size"], shuffle=True, generator=g)
    val = DataLoader(val_ds, batch_size=1024)
    test = DataLoader(test_ds, batch_size=1024)
    n_obd = min(cfg.get("obd_samples", 0), len(train_ds))
    obd = DataLoader(Subset(train_ds, range(n_obd)), batch_size=256)
    return train, val, test, obd


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


def retrain_hooks(train_loader, eval_loader, optimizer, device, clip_grad_norm=None):
    """``(train_epoch, evaluate)`` callables for the pruning engine built on the training loop."""

    def train_epoch(model) -> None:
        train(
            model,
            train_loader,
            epochs=1,
            optimizer=optimizer,
            device=device,
            progress=False,
            clip_grad_norm=clip_grad_norm,
        )

    def accuracy(model) -> float:
        return evaluate(model, eval_loader, device).accuracy

    return train_epoch, accuracy


@lru_cache(maxsize=4)
def _base_state(key: tuple) -> tuple[dict, float]:
    cfg = dict(key)
    seed_everything(cfg["seed"])
    train_loader, val_loader, test_loader, _ = _loaders(cfg)
    info = image_dataset_info(cfg["dataset"])
    model = MaskedDeepFFN(info.input_size, info.num_classes, list(cfg["hidden"]))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_base(model, train_loader, val_loader, cfg, device)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return state, evaluate(model, test_loader, device).accuracy


_BASE_KEYS = (
    "dataset",
    "data_dir",
    "train_subset",
    "hidden",
    "seed",
    "optimizer",
    "lr",
    "batch_size",
    "epochs",
    "lr_decay",
    "patience",
)


def ffn_trial(cfg: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
    """One trial: train (or reuse) the base MLP, prune iteratively, record every step."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    key = tuple((k, tuple(cfg[k]) if isinstance(cfg[k], list) else cfg[k]) for k in _BASE_KEYS)
    state, base_test = _base_state(key)
    info = image_dataset_info(cfg["dataset"])
    model = MaskedDeepFFN(info.input_size, info.num_classes, list(cfg["hidden"]))
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


def run_prune_ffn(
    config: PruneFFNConfig,
    store: TrialStore,
    out_dir: Path,
    executor: Executor | None = None,
    progress: bool = True,
) -> dict[str, str]:
    """Run (or resume) every trial, then write curves, table and figures; returns label → path."""
    configs = trial_configs(config)
    records = run_trials(EXPERIMENT, configs, ffn_trial, store, executor, progress=progress)
    done = [r for r in records if r.status == "done"]
    if not done:
        raise UsageError("no prune-ffn trial finished; see the store for the errors")
    rows = []
    for record in done:
        c = record.config
        for point in record.result["points"]:
            rows.append(
                {
                    "architecture": "-".join(map(str, c["hidden"])),
                    "method": c["method"],
                    "schedule": c["schedule"],
                    "retrain": c["retrain"],
                    "repeat": c["repeat"],
                    **point,
                }
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"curves": write_csv(out_dir / "curves.csv", rows)}
    table = ffn_table(rows, TABLE_POINTS)
    written["table"] = write_csv(out_dir / "table.csv", table)
    written.update(write_ffn_figures(rows, out_dir, config.dataset))
    written["trials"] = f"{len(done)}/{len(records)} done"
    return written


def demo_step(out_dir: Path, store: TrialStore, seed: int) -> dict[str, str]:
    """Toy scale for ``hiddenstruct demo``: digits, 64-100-10, five methods, one repeat."""
    config = PruneFFNConfig(
        architectures=((100,),),
        repeats=1,
        seed=seed,
        epochs=25,
        lr=3e-3,
        batch_size=128,
        relative_p=0.35,
        obd_samples=200,
    )
    return run_prune_ffn(config, store, out_dir, progress=False)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> str:
    """Write ``rows`` to ``path`` atomically (temp file + rename); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = list(dict.fromkeys(k for row in rows for k in row))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return str(path)


def _grouped(rows, keys):
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[k] for k in keys)].append(row)
    return groups


def ffn_table(rows: list[dict[str, Any]], points=TABLE_POINTS) -> list[dict[str, Any]]:
    """Mean ± std test accuracy at each fraction removed in ``points`` (exact steps, not interpolated)."""
    table = []
    keys = ("architecture", "schedule", "method", "retrain")
    for group, members in sorted(_grouped(rows, keys).items()):
        entry = dict(zip(keys, group, strict=True))
        base = [r["accuracy"] for r in members if r["step"] == 0]
        entry["unpruned"] = round(float(np.mean(base)), 4)
        for p in points:
            hits = [r["accuracy"] for r in members if abs(r["zero_fraction"] - p) < 1e-3]
            entry[f"acc@{int(p * 100)}%"] = round(float(np.mean(hits)), 4) if hits else math.nan
            entry[f"std@{int(p * 100)}%"] = (
                round(float(np.std(hits, ddof=1)), 4)
                if len(hits) > 1
                else (0.0 if hits else math.nan)
            )
        table.append(entry)
    return table


def write_ffn_figures(
    rows: list[dict[str, Any]], out_dir: Path, dataset: str = "digits"
) -> dict[str, str]:
    """Figure 2a per (architecture, schedule): see :func:`hiddenstruct.experiments.plots.figure2a`."""
    import pandas as pd

    from hiddenstruct.experiments.plots import figure2a
    from hiddenstruct.experiments.plots.style import dataset_label

    info = image_dataset_info(dataset)
    names = {
        arch: f"{info.input_size}-{arch}-{info.num_classes}"
        for arch in {r["architecture"] for r in rows}
    }
    return figure2a(pd.DataFrame(rows), dataset_label(dataset), out_dir, names)
