"""The trial runner of sparse-routes: make one model sparse by one route at one density and
measure accuracy, cost and structure. It loads torch, so the experiment imports it only when
a trial runs."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.utils.data import DataLoader

from hiddenstruct.data.images import image_dataset_info, load_image_dataset
from hiddenstruct.data.reber_torch import VOCAB_SIZE, reber_collate, torch_splits
from hiddenstruct.experiments.reber_inputs import overlap_result, trial_dataset
from hiddenstruct.experiments.sparse_routes import topology as topo
from hiddenstruct.nn import MaskedDeepFFN, MaskedRNN, SequenceClassifier
from hiddenstruct.sparse_training import RouteOptions, train_route
from hiddenstruct.training import evaluate, resolve_device, seed_everything
from hiddenstruct.trials.executors import TrialLogger


def build_model(cfg: dict[str, Any]):
    """A fresh (dense) model of a trial's family; no data is loaded."""
    if cfg["model"] == "lenet":
        info = image_dataset_info(cfg["dataset"])
        return MaskedDeepFFN(info.input_size, info.num_classes, list(cfg["hidden"]))

    return SequenceClassifier(
        MaskedRNN(cfg["reber_embedding"], list(cfg["reber_hidden"]), "gru"), vocab_size=VOCAB_SIZE
    )


def _problem(cfg: dict[str, Any]):
    """(model, train loader, validation loader, test loader, epochs, Reber data or None)."""
    seed_everything(cfg["seed"])
    g = torch.Generator().manual_seed(cfg["seed"])
    model = build_model(cfg)
    if cfg["model"] == "lenet":
        data_dir = cfg.get("runtime", {}).get("data_dir")
        parts = [
            load_image_dataset(cfg["dataset"], data_dir, split, flatten=True, seed=0)
            for split in ("train", "val", "test")
        ]
        train = DataLoader(parts[0], batch_size=cfg["batch_size"], shuffle=True, generator=g)
        val, test = (DataLoader(p, batch_size=1024) for p in parts[1:])
        return model, train, val, test, cfg["epochs"], None

    # no "unique" key: a trial stored before 0.2.0 (the protocol's i.i.d. draws)
    data = trial_dataset(cfg, n=cfg["reber_n"], seed=cfg["seed"], test_fraction=0.25,
                         hard_fraction=0.5)  # fmt: skip
    train_ds, test_ds = torch_splits(data)
    batch = cfg["reber_batch_size"]
    train = DataLoader(
        train_ds, batch_size=batch, shuffle=True, collate_fn=reber_collate, generator=g
    )
    test = DataLoader(test_ds, batch_size=512, collate_fn=reber_collate)
    return model, train, test, test, cfg["reber_epochs"], data


def _numeric(record: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in record.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and ":" not in k
    }


def route_trial(cfg: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
    """Make one model sparse by one route at one density; accuracy, cost, structure."""

    device = resolve_device(cfg.get("runtime", {}).get("device", "auto"))
    model, train_loader, val_loader, test_loader, epochs, data = _problem(cfg)
    options = RouteOptions(
        epochs=epochs,
        optimizer="adam",
        lr=cfg["lr"],
        clip_grad_norm=5.0 if cfg["model"] == "reber_gru" else None,
        prune_fraction=cfg["prune_fraction"],
        retrain_epochs=cfg["retrain_epochs"],
        l1_strength=cfg["l1_strength"],
        l1_threshold=cfg["l1_threshold"],
        finetune_epochs=cfg["finetune_epochs"],
        update_every=cfg["update_every"],
        track_every=cfg["track_every"],
        include_io=cfg["include_io"],
        seed=cfg["seed"],
    )
    result = train_route(
        model, cfg["route"], cfg["density"], train_loader, eval_loader=val_loader,
        options=options, device=device,
    )  # fmt: skip
    test = evaluate(model, test_loader, device)
    for row in result.trajectory:
        log.metric(int(row["step"] or 0), **{k: v for k, v in _numeric(row).items() if k != "step"})
    if not math.isfinite(test.loss):
        raise RuntimeError(f"{cfg['route']} diverged: test loss {test.loss}")
    return {
        "test_accuracy": test.accuracy,
        "val_accuracy": result.accuracy,
        "density": result.density,
        "seconds": result.seconds,
        "cost": result.cost,
        "steps": result.steps,
        "epochs": result.epochs,
        "final": _numeric(result.final_structure),
        "trajectory": [_numeric(r) for r in result.trajectory],
        "final_masks": topo.encode_masks(model),
        **({} if data is None else overlap_result(data)),
    }
