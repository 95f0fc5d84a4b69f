"""The trial runners of prune-ffn: :func:`base_trial` trains one unpruned MLP (a shared trial,
once per store), :func:`ffn_trial` prunes a copy of it iteratively (:mod:`.experiment`
describes the protocol). They load torch, so the experiment imports them only when a trial
runs."""

from __future__ import annotations

import copy
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset

from hiddenstruct.data.images import image_dataset_info, load_image_dataset
from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.prune_ffn.config import METHODS, TABLE_POINTS
from hiddenstruct.nn import MaskedDeepFFN
from hiddenstruct.nn.masking import load_state_dict
from hiddenstruct.outputs import write_with
from hiddenstruct.pruning import RetrainPolicy, StopCriteria, fixed_size, iterative_prune, relative
from hiddenstruct.training import evaluate, resolve_device, train
from hiddenstruct.training.optim import make_optimizer
from hiddenstruct.training.retrain import retrain_hooks
from hiddenstruct.trials.artifacts import load_artifact, save_pruning_level
from hiddenstruct.trials.executors import TrialLogger


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

    info = image_dataset_info(cfg["dataset"])
    return MaskedDeepFFN(info.input_size, info.num_classes, list(cfg["hidden"]))


def base_trial(cfg: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
    """Shared trial: train the unpruned MLP of one (architecture, seed); its state_dict is an artifact."""

    device = _device(cfg)
    train_loader, val_loader, test_loader, _ = _loaders(cfg)
    model = _mlp(cfg)
    train_base(model, train_loader, val_loader, cfg, device)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    path = log.artifact_file("base") or Path(cfg["runtime"]["artifact_dir"]) / f"{log.hash}-base.pt"
    write_with(path, lambda tmp: torch.save(state, tmp))
    log.artifact("state_dict", path)
    return {"test_accuracy": evaluate(model, test_loader, device).accuracy}


def ffn_trial(cfg: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
    """One trial: load the shared base MLP, prune iteratively, record every step."""

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
