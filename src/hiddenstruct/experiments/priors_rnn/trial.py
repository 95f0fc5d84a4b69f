"""The pack runner of priors-rnn: train a pack's graphs together as one disjoint
:class:`~hiddenstruct.nn.packed.PackedGraphClassifier`, one result row per graph
(:mod:`.experiment` describes the protocol). It loads torch, so the sweep names it by a
:class:`~hiddenstruct.experiments.base.TrialRunner` and it is imported only when a pack runs."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch.utils.data import DataLoader

from hiddenstruct.data.reber_torch import reber_collate, torch_splits
from hiddenstruct.experiments.priors_rnn.config import EXPERIMENT, build_graph
from hiddenstruct.experiments.reber_inputs import overlap_result, trial_dataset
from hiddenstruct.graphs.properties import properties
from hiddenstruct.nn.packed import PackedGraphClassifier, graph_classifier
from hiddenstruct.training import resolve_device
from hiddenstruct.training.packed import evaluate_packed, train_packed
from hiddenstruct.trials.artifacts import save_state
from hiddenstruct.trials.executors import TrialLogger
from hiddenstruct.trials.identity import trial_identity


def train_pack(config: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
    """Trial function of a pack: train its graphs together; one result row per graph."""
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
