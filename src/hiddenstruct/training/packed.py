"""Training K packed models together as if each were trained alone.

A packed model (:class:`hiddenstruct.nn.packed.PackedGraphClassifier`) returns logits
[B, K, C] for K disjoint sub-models. Training it reproduces K separate runs because:

* the loss is the *sum* of the K per-graph mean cross-entropies, and no parameter entry is
  shared, so each graph's gradient is exactly its own;
* per-graph gradient clipping: each graph's norm is computed over the entries it owns
  (``owner_maps``) and only those entries are scaled, with ``torch.nn.utils.clip_grad_norm_``'s
  rule ``coef = min(1, max_norm / (norm + 1e-6))``;
* Adam is elementwise, so one optimizer over the packed tensors equals K optimizers; entries
  owned by no graph (cross-graph blocks) are masked, get zero gradient, and Adam leaves
  them untouched (its moments stay zero, the update is 0 / (0 + eps) = 0).

The equivalence is tested in ``tests/nn/test_packed.py`` against K plain training loops.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from hiddenstruct.training.divergence import DivergenceWatch
from hiddenstruct.training.loop import Evaluation
from hiddenstruct.training.optim import make_optimizer

OwnerMaps = Sequence[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class PackedEpoch:
    """One epoch of packed training: per-graph mean loss and accuracy on the training batches."""

    epoch: int
    train_loss: tuple[float, ...]
    train_accuracy: tuple[float, ...]
    seconds: float


def per_graph_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each graph: logits [B, K, C], target [B] → [K]."""
    batch, graphs, classes = logits.shape
    losses = nn.functional.cross_entropy(
        logits.reshape(batch * graphs, classes), target.repeat_interleave(graphs), reduction="none"
    )
    return losses.view(batch, graphs).mean(dim=0)


def per_graph_grad_norms(owner_maps: OwnerMaps, num_graphs: int) -> torch.Tensor:
    """L2 norm of each graph's gradient over the entries it owns → [num_graphs]."""
    squares = None
    for param, owner in owner_maps:
        if param.grad is None:
            continue
        if squares is None:
            squares = param.grad.new_zeros(num_graphs + 1)
        squares.index_add_(0, owner.reshape(-1), param.grad.detach().reshape(-1).square())
    if squares is None:
        return torch.zeros(num_graphs)
    return squares[:num_graphs].sqrt()


def clip_grad_norm_per_graph_(
    owner_maps: OwnerMaps, num_graphs: int, max_norm: float
) -> torch.Tensor:
    """Clip each graph's gradient to ``max_norm`` separately (in place); returns the norms."""
    norms = per_graph_grad_norms(owner_maps, num_graphs)
    coef = torch.clamp(max_norm / (norms + 1e-6), max=1.0)
    coef = torch.cat([coef, coef.new_ones(1)])
    for param, owner in owner_maps:
        if param.grad is not None:
            param.grad.mul_(coef[owner])
    return norms


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def train_packed(
    model: nn.Module,
    train_loader: Iterable,
    *,
    epochs: int,
    lr: float = 1e-3,
    clip_grad_norm: float | None = 5.0,
    optimizer: Callable[..., torch.optim.Optimizer] | None = None,
    device: torch.device | None = None,
    on_epoch: Callable[[PackedEpoch], None] | None = None,
) -> list[PackedEpoch]:
    """Train a packed model (``model(*inputs) -> [B, K, C]``, ``model.owner_maps()``).

    ``optimizer`` is a factory ``params -> Optimizer`` (default the registry's Adam with ``lr``). Batches
    are tuples whose last element is the target. ``on_epoch`` is called after each epoch.
    """
    device = device or _device_of(model)
    model.to(device)
    num_graphs = int(model.num_graphs)
    owner_maps = model.owner_maps()
    params = [p for p, _ in owner_maps]
    opt = optimizer(params) if optimizer is not None else make_optimizer("adam", params, lr)
    history: list[PackedEpoch] = []
    watch = DivergenceWatch(device, float(opt.param_groups[0]["lr"]))
    for epoch in range(1, epochs + 1):
        model.train()
        start = time.perf_counter()
        loss_sum = torch.zeros(num_graphs, device=device)
        correct = torch.zeros(num_graphs, device=device)
        seen = 0
        for step, batch in enumerate(train_loader, start=1):
            *inputs, target = (x.to(device) for x in batch)
            logits = model(*inputs)
            losses = per_graph_loss(logits, target)
            watch.observe(losses, epoch, step)  # one diverged graph fails its whole pack
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()
            if clip_grad_norm is not None:
                clip_grad_norm_per_graph_(owner_maps, num_graphs, clip_grad_norm)
            opt.step()
            with torch.no_grad():
                loss_sum += losses.detach() * target.shape[0]
                correct += (logits.argmax(dim=-1) == target[:, None]).sum(dim=0)
            seen += target.shape[0]
        watch.check(epoch, params)
        record = PackedEpoch(
            epoch=epoch,
            train_loss=tuple((loss_sum / max(seen, 1)).tolist()),
            train_accuracy=tuple((correct / max(seen, 1)).tolist()),
            seconds=time.perf_counter() - start,
        )
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    return history


@torch.no_grad()
def evaluate_packed(
    model: nn.Module, loader: Iterable, device: torch.device | None = None
) -> list[Evaluation]:
    """Per-graph mean loss and accuracy of a packed model on ``loader``."""
    device = device or _device_of(model)
    model.eval()
    num_graphs = int(model.num_graphs)
    loss_sum = torch.zeros(num_graphs, device=device)
    correct = torch.zeros(num_graphs, device=device)
    seen = 0
    for batch in loader:
        *inputs, target = (x.to(device) for x in batch)
        logits = model(*inputs)
        loss_sum += per_graph_loss(logits, target) * target.shape[0]
        correct += (logits.argmax(dim=-1) == target[:, None]).sum(dim=0)
        seen += target.shape[0]
    n = max(seen, 1)
    return [
        Evaluation(loss=float(li), accuracy=float(a), n=seen)
        for li, a in zip((loss_sum / n).tolist(), (correct / n).tolist(), strict=True)
    ]
