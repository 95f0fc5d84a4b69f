"""Measuring a candidate: compile its genotype, train it on an image dataset, validate it.

:func:`train_candidate` is a module-level trial function ``(config, log) -> result`` for
:func:`hiddenstruct.trials.executors.run_trials` (picklable, so it runs in worker
processes and on Ray). ``config`` keys: ``genotype`` (dict), ``dataset`` (digits | cifar10 |
mnist), ``data_dir``, ``epochs``, ``batch_size``, ``lr``, ``train_subset``, ``val_subset``,
``val_fraction``, ``data_seed``, ``max_channels``, ``seed``. Validation images are held out
of the training split (stratified, seeded), so CIFAR-10 needs only its training batches.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from hiddenstruct.data import image_dataset_info, load_image_dataset
from hiddenstruct.nas.genotype import Genotype
from hiddenstruct.nas.phenotype import compile
from hiddenstruct.outputs import write_torch
from hiddenstruct.training import resolve_device, train


@lru_cache(maxsize=4)
def _tensors(
    dataset: str,
    data_dir: str | None,
    split: str,
    val_fraction: float,
    seed: int,
    subset: int | None,
):
    """Images and labels of a split, optionally the first ``subset`` of a seeded shuffle (cached per process)."""

    ds = load_image_dataset(dataset, data_dir, split, val_fraction=val_fraction, seed=seed)
    x, y = ds.tensors
    if subset is not None and subset < len(y):
        order = torch.from_numpy(np.random.default_rng(seed).permutation(len(y))[:subset])
        x, y = x[order], y[order]
    return x, y


def _split(config: dict[str, Any], split: str, subset_key: str):
    return _tensors(
        config["dataset"],
        config.get("runtime", {}).get("data_dir", config.get("data_dir")),
        split,
        config["val_fraction"],
        config["data_seed"],
        config[subset_key],
    )


def train_candidate(config: dict[str, Any], log: Any) -> dict[str, Any]:
    """Trial: compile the genotype, train it, return (max) validation accuracy and costs."""

    info = image_dataset_info(config["dataset"])
    genotype = Genotype.from_dict(config["genotype"])
    xt, yt = _split(config, "train", "train_subset")
    xv, yv = _split(config, "val", "val_subset")
    generator = torch.Generator().manual_seed(int(config["seed"]))
    loader = DataLoader(
        TensorDataset(xt, yt),
        batch_size=config["batch_size"],
        shuffle=True,
        drop_last=len(yt) > config["batch_size"],
        generator=generator,
    )
    val_loader = DataLoader(TensorDataset(xv, yv), batch_size=512)
    model = compile(genotype, info.shape, info.num_classes, max_channels=config["max_channels"])
    start, cpu_start = time.perf_counter(), time.process_time()
    history = train(
        model,
        loader,
        epochs=config["epochs"],
        lr=config["lr"],
        val_loader=val_loader,
        device=resolve_device(config.get("runtime", {}).get("device", "auto")),
        progress=False,
    )
    accuracies = [m.val_accuracy for m in history.epochs]
    for m in history.epochs:
        log.metric(m.epoch, train_loss=m.train_loss, val_accuracy=m.val_accuracy)
    if config.get("runtime", {}).get("save_model") and hasattr(log, "artifact_file"):
        if (path := log.artifact_file("model")) is not None:
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            log.artifact("model", write_torch(path, state))
    return {
        "val_accuracy": float(accuracies[-1]),
        "max_val_accuracy": float(max(accuracies)),
        "train_seconds": time.perf_counter() - start,
        "train_cpu_seconds": time.process_time() - cpu_start,
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }


def warm_up_genotype(dataset: str, channels: Sequence[int]) -> Genotype:
    """A chain with every conv kernel at every channel count, then both pools, repeated once
    per spatial level, so the first real candidates do not pay kernel start-up costs."""
    size = image_dataset_info(dataset).shape[-1]
    levels = max(1, int(np.log2(size)) + 1)
    block = [(op, c) for c in channels for op in ("conv3x3", "conv5x5", "conv7x7")]
    block += [("max_pool", 1), ("avg_pool", 1)]
    ops = block * levels
    return Genotype.chain([op for op, _ in ops], [c for _, c in ops])


class _NoLog:
    def metric(self, step: int, **values: float) -> None:
        pass


def warm_up(config: dict[str, Any], channels: Sequence[int]) -> None:
    """Train :func:`warm_up_genotype` for one step and load the configured splits, so one-off
    start-up costs (imports, data loading, kernel initialisation) are not charged to whichever
    search runs first."""
    one_batch = {
        **config,
        "epochs": 1,
        "train_subset": config["batch_size"],
        "val_subset": config["batch_size"],
        "genotype": warm_up_genotype(config["dataset"], channels).to_dict(),
    }
    train_candidate(one_batch, _NoLog())
    _split(config, "train", "train_subset")
    _split(config, "val", "val_subset")
