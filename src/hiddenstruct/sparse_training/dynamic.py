"""The shared update loop of dynamic sparse training (drop by magnitude, regrow by a score).

A method (SET, RigL, sparse momentum: :mod:`hiddenstruct.sparse_training.methods`) only
says how to score the zeros for regrowth (:meth:`DynamicSparsity.grow_scores`) and, if it
moves weights between layers, how many each layer regrows (:meth:`DynamicSparsity.grow_counts`).
Everything else is here and identical for all methods:

* every ``update_every`` steps, each layer drops the ``fraction`` of its live weights with the
  smallest magnitude ``|W ⊙ M|`` (``fraction`` from the update schedule);
* as many weights are regrown among the entries that were zero *before* the update (a
  just-dropped weight is not regrown in the same update), so the total number of live
  weights — the density — is exactly the same after every update;
* regrown and dropped weights are set to 0 and their optimizer state (Adam's moments, SGD's
  momentum buffer: every state tensor shaped like the weight) is zeroed.

Use as a step hook: ``train(model, loader, epochs=…, step_hooks=[RigL(model)])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.sparse_training.schedules import get_update_schedule
from hiddenstruct.sparsity.tensors import SparseLayer, sparse_layers
from hiddenstruct.sparsity.topk import select_top
from hiddenstruct.sparsity.updater import MaskUpdater
from hiddenstruct.training.loop import StepContext

__all__ = ["DynamicSparsity", "reset_optimizer_state", "select_top"]  # select_top: sparsity.topk


def reset_optimizer_state(
    optimizer: torch.optim.Optimizer | None, param: torch.Tensor, changed: torch.Tensor
) -> None:
    """Zero ``optimizer``'s per-entry state of ``param`` where ``changed`` (Adam moments,
    SGD momentum); scalar state such as Adam's step count is shared and left alone."""
    if optimizer is None:
        return
    state = optimizer.state.get(param, {})
    for value in state.values():
        if isinstance(value, torch.Tensor) and value.shape == param.shape:
            value[changed] = 0


class DynamicSparsity(MaskUpdater):
    """Base of the dynamic sparse training methods: drop by magnitude, regrow by a score.

    ``model``'s current masks define the density, which is kept exactly (initialise them
    with :func:`~hiddenstruct.sparse_training.init_sparse_masks`). ``update_every``: ΔT steps
    between updates. ``fraction``: the initial update fraction (ζ / α). ``schedule``:
    ``"constant"`` or ``"cosine"`` (decayed to zero at the stop step). ``stop_step``: no
    updates from this step on; None: ``stop_fraction`` × the run's total steps (None: never;
    ``"default"``: the method's own).
    ``tracker``: a :class:`~hiddenstruct.sparse_training.StructureTracker` told of each update.
    """

    name = "dynamic"
    default_schedule = "constant"
    default_stop_fraction: float | None = None

    def __init__(
        self,
        model: nn.Module,
        *,
        update_every: int = 100,
        fraction: float = 0.3,
        schedule: str | None = None,
        stop_step: int | None = None,
        stop_fraction: float | None | str = "default",
        seed: int = 0,
        tracker: Any = None,
    ) -> None:
        if update_every < 1:
            raise UsageError(f"update_every must be >= 1 step, got {update_every}")
        if not 0.0 <= fraction <= 1.0:
            raise UsageError(f"update fraction must be in [0, 1], got {fraction}")
        self.model = model
        self.layers: list[SparseLayer] = sparse_layers(model)
        super().__init__(self.layers, update_every=update_every)
        self.fraction = float(fraction)
        self.schedule_name = schedule or self.default_schedule
        self.schedule = get_update_schedule(self.schedule_name)
        self.stop_step = stop_step
        self.stop_fraction = (
            self.default_stop_fraction if stop_fraction == "default" else stop_fraction
        )
        self.generator = torch.Generator().manual_seed(seed)
        self.tracker = tracker
        self.history: list[dict[str, Any]] = []
        with torch.no_grad():
            for layer in self.layers:
                layer.raw_weight.mul_(layer.current_mask)  # dead weights are 0: regrown start at 0
        self.target_live = sum(layer.live for layer in self.layers)

    # --- what a method may override -------------------------------------------------------
    def grow_scores(self, index: int, layer: SparseLayer) -> torch.Tensor:
        """Scores of ``layer``'s entries; the highest-scoring zeros are regrown."""
        raise NotImplementedError

    def prepare_scores(self, ctx: StepContext | None) -> None:
        """Compute what :meth:`grow_scores` needs for this update (e.g. dense gradients)."""

    def grow_counts(self, dropped: list[int], capacity: list[int]) -> list[int]:
        """How many weights each layer regrows (default: as many as it dropped)."""
        return list(dropped)

    # --- the shared loop ------------------------------------------------------------------
    def resolved_stop_step(self, total_steps: int | None) -> int | None:
        """The step from which no update happens (None: never stops)."""
        if self.stop_step is not None:
            return self.stop_step
        if self.stop_fraction is None or total_steps is None:
            return None
        return int(self.stop_fraction * total_steps)

    def fraction_at(self, step: int, total_steps: int | None = None) -> float:
        """The update fraction an update at ``step`` uses."""
        return self.schedule(step, self.fraction, self.resolved_stop_step(total_steps))

    def amount_at(self, step: int, total_steps: int | None = None) -> float:
        return self.fraction_at(step, total_steps)

    def compute_masks(
        self, masks: dict[str, torch.Tensor], amount: float, ctx: StepContext | None = None
    ) -> dict[str, torch.Tensor]:
        """Each layer drops ``amount`` of its live weights (smallest |W ⊙ M|) and regrows
        :meth:`grow_counts` of them among its zeros (highest :meth:`grow_scores`)."""
        current = [masks[layer.name] for layer in self.layers]
        capacity = [
            layer.numel - int(m.sum()) for layer, m in zip(self.layers, current, strict=True)
        ]
        dropped = [
            min(round(amount * int(m.sum())), cap) for m, cap in zip(current, capacity, strict=True)
        ]
        grown = self.grow_counts(dropped, capacity)
        if sum(grown) != sum(dropped) or any(g > c for g, c in zip(grown, capacity, strict=True)):
            raise RuntimeError(f"{self.name}: grow counts {grown} do not match drops {dropped}")
        new = {}
        for i, (layer, mask) in enumerate(zip(self.layers, current, strict=True)):
            new[layer.name] = mask
            if dropped[i] == 0 and grown[i] == 0:
                continue
            magnitude = (layer.raw_weight * layer.current_mask).abs()
            drop = select_top(-magnitude, mask, dropped[i])
            grow = select_top(self.grow_scores(i, layer), ~mask, grown[i])
            new[layer.name] = (mask & ~drop) | grow
        self._counts = (sum(dropped), sum(grown))
        return new

    def apply_masks(self, before, after, ctx: StepContext | None = None) -> None:
        """Copy the masks in place; changed weights and their optimizer state become 0."""
        optimizer = None if ctx is None else ctx.optimizer
        for layer in self.layers:
            changed = before[layer.name] ^ after[layer.name]
            if not changed.any():
                continue
            layer.current_mask.copy_(after[layer.name])
            layer.raw_weight[changed] = 0
            reset_optimizer_state(optimizer, layer.raw_weight, changed)

    @torch.no_grad()
    def update(self, fraction: float, ctx: StepContext | None = None) -> dict[str, Any]:
        """One drop-and-grow update of every layer; returns (and stores) what changed."""
        self.prepare_scores(ctx)
        super().update(fraction, ctx)
        dropped, grown = self._counts
        record = {
            "step": None if ctx is None else ctx.step,
            "update": self.updates,
            "fraction": fraction,
            "dropped": dropped,
            "grown": grown,
        }
        self.history.append(record)
        if self.tracker is not None:
            self.tracker.on_update(record["step"], self.updates)
        return record

    @property
    def live(self) -> int:
        """Live weights over all layers now (equal to :attr:`target_live` after every update)."""
        return sum(layer.live for layer in self.layers)

    def layer_names(self) -> Sequence[str]:
        return [layer.name for layer in self.layers]
