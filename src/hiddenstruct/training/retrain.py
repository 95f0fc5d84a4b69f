"""Hooks that let the pruning engine retrain and evaluate through the training loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from hiddenstruct.training.loop import evaluate, train


def retrain_hooks(
    train_loader: Any,
    eval_loader: Any,
    optimizer: torch.optim.Optimizer | str,
    device: torch.device | str | None,
    clip_grad_norm: float | None = None,
) -> tuple[Callable[[nn.Module], None], Callable[[nn.Module], float]]:
    """``(train_epoch, accuracy)`` callables: one epoch on ``train_loader``, accuracy on ``eval_loader``."""

    def train_epoch(model: nn.Module) -> None:
        train(
            model,
            train_loader,
            epochs=1,
            optimizer=optimizer,
            device=device,
            progress=False,
            clip_grad_norm=clip_grad_norm,
        )

    def accuracy(model: nn.Module) -> float:
        return evaluate(model, eval_loader, device).accuracy

    return train_epoch, accuracy
