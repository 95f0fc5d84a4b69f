"""Retraining after a pruning step, and rewinding to initial weights (lottery ticket).

The pruning layer does not import the training loop (imports flow
``pruning ← training``); retraining is driven through two callables the caller supplies:
``train_epoch(model)`` trains one epoch (e.g. ``hiddenstruct.training.train(model, loader,
epochs=1, optimizer=opt)``) and ``evaluate(model) -> accuracy``. Masks are
parametrizations, so a masked weight receives zero gradient and its effective value stays
exactly zero whatever the optimizer does: retraining never revives pruned weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from hiddenstruct.errors import UsageError, check_choice

RETRAIN_MODES = ("none", "fixed", "recover")


@dataclass(frozen=True)
class RetrainPolicy:
    """How to retrain after each pruning step.

    ``mode="fixed"``: exactly ``epochs`` epochs. ``mode="recover"``: epoch by epoch until the
    accuracy is back to at least ``reference - tolerance`` (the unpruned accuracy), at most
    ``epochs`` epochs. ``mode="none"``: no retraining.
    """

    mode: str = "fixed"
    epochs: int = 1
    tolerance: float = 0.0

    def __post_init__(self) -> None:
        check_choice(self.mode, RETRAIN_MODES, "retrain mode")
        if self.epochs < 0:
            raise UsageError(f"retrain epochs must be >= 0, got {self.epochs}")
        if self.tolerance < 0:
            raise UsageError(f"retrain tolerance must be >= 0, got {self.tolerance}")


def retrain(
    model: nn.Module,
    policy: RetrainPolicy,
    *,
    train_epoch: Callable[[nn.Module], object],
    evaluate: Callable[[nn.Module], float],
    reference: float | None = None,
) -> list[float]:
    """Retrain ``model`` by ``policy``; returns the accuracy after each retraining epoch."""
    if policy.mode == "none" or policy.epochs == 0:
        return []
    if policy.mode == "recover" and reference is None:
        raise UsageError("retrain mode 'recover' needs the unpruned reference accuracy")
    accuracies: list[float] = []
    for _ in range(policy.epochs):
        train_epoch(model)
        accuracies.append(float(evaluate(model)))
        if policy.mode == "recover" and accuracies[-1] >= reference - policy.tolerance:
            break
    return accuracies


def snapshot_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of every parameter (masked ones as their unmasked originals), for rewinding."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def rewind(model: nn.Module, snapshot: dict[str, torch.Tensor]) -> None:
    """Copy ``snapshot`` values back into the parameters; masks (buffers) are left as they are."""
    params = dict(model.named_parameters())
    missing = sorted(set(snapshot) - set(params))
    if missing:
        raise UsageError(f"rewind snapshot names parameters the model lacks: {missing[:5]}")
    with torch.no_grad():
        for name, value in snapshot.items():
            params[name].copy_(value.to(params[name].device))
