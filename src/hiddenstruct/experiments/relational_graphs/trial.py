"""The trial runner of the relational-graphs experiment: build one graph, match the width to the
complete graph's multiply-adds, train the masked MLP (images) or recurrent net (Reber) with
one seed and return its error, width, cost, C, L and graph properties.

It loads torch: :mod:`.experiment` imports it only when a trial runs, so the command line
builds its parsers without torch.
"""

from __future__ import annotations

import math
import time
from functools import partial
from typing import Any

import networkx as nx
import numpy as np
import torch
from torch.utils.data import DataLoader

from hiddenstruct.data.images import image_dataset_info, load_image_arrays
from hiddenstruct.data.reber_torch import VOCAB_SIZE, load_reber_splits, reber_collate
from hiddenstruct.graphs.properties import properties
from hiddenstruct.graphs.relational import clustering_and_path_length, ws_flex_graph
from hiddenstruct.nn import MaskedRNN, SequenceClassifier
from hiddenstruct.nn.relational import RelationalMLP, mask_rnn, match_width, mlp_macs, rnn_macs
from hiddenstruct.recurrent_modes import get_mode
from hiddenstruct.training import resolve_device, seed_everything
from hiddenstruct.trials.executors import TrialLogger

# graph2nn's CIFAR-10 normalisation (0–255 units; their code calls the order BGR but applies it
# to the channels as stored)
CIFAR_MEAN = (125.3, 123.0, 113.9)
CIFAR_SD = (63.0, 62.1, 66.7)


def _graph(cfg: dict[str, Any]):

    if cfg["graph"] == "complete":
        return nx.complete_graph(cfg["nodes"])
    return ws_flex_graph(cfg["nodes"], cfg["k"], cfg["p"], cfg["graph_seed"])


class _Batches:
    """Shuffled mini-batches of in-memory tensors, augmented per batch (CIFAR-10: graph2nn's
    random crop with 4-pixel zero padding and horizontal flip with probability 0.5).
    ``augment=None`` marks evaluation batches (no augmentation, no batch dropped)."""

    def __init__(self, x, y, batch_size: int, seed: int, augment: bool | None) -> None:

        self.x, self.y, self.batch_size, self.augment = x, y, batch_size, augment
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def _augment(self, x):

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

        order = torch.randperm(len(self.x), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            if self.augment is not None and len(idx) == 1 and len(order) > 1:
                continue  # BatchNorm cannot train on one example: drop a last batch of one
            x = self.x[idx]
            yield (self._augment(x) if self.augment else x), self.y[idx]


def _image_data(cfg: dict[str, Any]):
    """(train x, train y, eval x, eval y, input size, classes), normalised."""

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

    device = resolve_device(cfg.get("runtime", {}).get("device", "auto"))
    graph = _graph(cfg)
    C, L = clustering_and_path_length(graph)
    seed_everything(cfg["seed"])
    start = time.perf_counter()
    masked = None if cfg["graph"] == "complete" else graph
    if cfg["model"] == "mlp":
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
