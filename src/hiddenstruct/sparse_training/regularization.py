"""Sparsity through the loss: L1 and group lasso penalties, and a magnitude threshold.

The penalties are step hooks that add the penalty's (sub)gradient to each masked weight's
gradient after ``backward`` — the same update as adding the term to the loss, but the
reported losses stay the data loss. :class:`MagnitudeThreshold` is an epoch callback that
turns weights of magnitude ≤ ``threshold`` into mask zeros (masks only shrink): the
paper's route to "real zeros" with L1 and ReLUs (§2 "Achieving Sparsity").

Example::

    >>> train(net, loader, epochs=10, step_hooks=[L1Penalty(net, 1e-4)],
    ...       callbacks=[MagnitudeThreshold(net, 1e-3)])
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from hiddenstruct.errors import UsageError, check_choice
from hiddenstruct.nn.masking import apply_mask
from hiddenstruct.sparsity.tensors import SparseLayer, sparse_layers
from hiddenstruct.sparsity.topk import select_top
from hiddenstruct.training.loop import StepContext, StepHook

__all__ = ["GroupLassoPenalty", "L1Penalty", "MagnitudeThreshold", "largest_live", "neuron_rows"]


def neuron_rows(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` viewed as one row per neuron's incoming weights (``[out, rest]``).

    Linear ``[out, in]`` as is; Conv2d ``[out, in, kh, kw]`` flattened per output channel;
    a recurrent ``weight_ih`` / ``weight_hh`` has one row per (gate, neuron).
    """
    return tensor.reshape(tensor.shape[0], -1)


def _check_strength(strength: float) -> float:
    if not (strength >= 0 and math.isfinite(strength)):
        raise UsageError(f"penalty strength must be a finite number >= 0, got {strength}")
    return float(strength)


def largest_live(layers: list[SparseLayer], count: int) -> list[torch.Tensor]:
    """Masks keeping the ``count`` live weights of largest ``|W ⊙ M|`` over all ``layers``."""
    magnitudes = [
        (layer.raw_weight * layer.current_mask).abs().masked_fill(layer.current_mask == 0, -1)
        for layer in layers
    ]
    flat = torch.cat([m.reshape(-1) for m in magnitudes])
    everything = torch.ones_like(flat, dtype=torch.bool)
    keep = select_top(flat, everything, min(count, flat.numel())).to(flat.dtype)
    masks, start = [], 0
    for layer, m in zip(layers, magnitudes, strict=True):
        masks.append(keep[start : start + m.numel()].reshape(m.shape) * layer.current_mask)
        start += m.numel()
    return masks


class L1Penalty(StepHook):
    """Adds ``strength · Σ |W ⊙ M|`` to the objective (subgradient ``strength · sign(W) ⊙ M``)."""

    def __init__(self, model: nn.Module, strength: float) -> None:
        self.strength = _check_strength(strength)
        self.layers: list[SparseLayer] = sparse_layers(model)

    @torch.no_grad()
    def before_step(self, ctx: StepContext) -> None:
        for layer in self.layers:
            weight = layer.raw_weight
            if weight.grad is not None:
                weight.grad.add_(torch.sign(weight) * layer.current_mask, alpha=self.strength)


class GroupLassoPenalty(StepHook):
    """Adds ``strength · Σ_rows sqrt(p) · ‖row‖₂`` over each neuron's incoming weights
    (``p`` = row length, Yuan & Lin 2006), pushing whole neurons' fan-in to zero."""

    def __init__(self, model: nn.Module, strength: float) -> None:
        self.strength = _check_strength(strength)
        self.layers = sparse_layers(model)

    @torch.no_grad()
    def before_step(self, ctx: StepContext) -> None:
        for layer in self.layers:
            weight = layer.raw_weight
            if weight.grad is None:
                continue
            rows = neuron_rows(weight * layer.current_mask)
            norms = rows.norm(dim=1, keepdim=True)
            scale = math.sqrt(rows.shape[1]) * self.strength
            step = torch.where(norms > 0, rows / norms.clamp_min(1e-30), torch.zeros_like(rows))
            weight.grad.add_(step.reshape(weight.shape) * scale)


class MagnitudeThreshold:
    """Epoch callback: mask out weights with ``|W| ≤ threshold`` (``granularity="weight"``)
    or whole neurons' fan-in with ``‖row‖₂ ≤ threshold`` (``"neuron"``). Masks only shrink.

    ``min_live``: never keep fewer weights than this in total — when the threshold would,
    the ``min_live`` largest ``|W ⊙ M|`` over all layers are kept instead (class-blinded;
    weight granularity only), so a target density is reached and not overshot.
    ``tracker``: a :class:`~hiddenstruct.sparse_training.StructureTracker` told of each
    thresholding. ``history`` lists the live weights after each epoch.
    """

    GRANULARITIES = ("weight", "neuron")

    def __init__(
        self,
        model: nn.Module,
        threshold: float,
        granularity: str = "weight",
        tracker: Any = None,
        min_live: int | None = None,
    ) -> None:
        if not (threshold >= 0 and math.isfinite(threshold)):
            raise UsageError(f"threshold must be a finite number >= 0, got {threshold}")
        check_choice(granularity, self.GRANULARITIES, "granularity")
        if min_live is not None and (granularity != "weight" or min_live < 0):
            raise UsageError(
                f"min_live needs granularity 'weight' and a count >= 0, got {min_live}"
            )
        self.min_live = min_live
        self.threshold = float(threshold)
        self.granularity = granularity
        self.layers = sparse_layers(model)
        self.tracker = tracker
        self.updates = 0
        self.history: list[dict[str, Any]] = []

    def keep(self, layer: SparseLayer) -> torch.Tensor:
        """The entries of ``layer`` that survive the threshold (before and-ing the mask)."""
        effective = layer.raw_weight * layer.current_mask
        if self.granularity == "weight":
            return effective.abs() > self.threshold
        rows = neuron_rows(effective).norm(dim=1) > self.threshold
        return rows.reshape(-1, *([1] * (effective.dim() - 1))).expand_as(effective)

    @torch.no_grad()
    def __call__(self, metrics: Any = None, model: nn.Module | None = None) -> bool:
        """Threshold every layer (never stops training: returns False)."""
        new = [
            layer.current_mask * self.keep(layer).to(layer.current_mask.dtype)
            for layer in self.layers
        ]
        if self.min_live is not None and sum(int(m.sum()) for m in new) < self.min_live:
            new = largest_live(self.layers, self.min_live)
        for layer, mask in zip(self.layers, new, strict=True):
            apply_mask(layer.module, layer.tensor_name, mask)
        self.updates += 1
        live = sum(layer.live for layer in self.layers)
        epoch = getattr(metrics, "epoch", None)
        self.history.append({"epoch": epoch, "update": self.updates, "live": live})
        if self.tracker is not None:
            self.tracker.on_update(epoch, self.updates)
        return False
