"""Scores → masks on a schedule: the one extension point of pruning and sparse training.

A :class:`MaskUpdater` owns some :class:`~hiddenstruct.sparsity.tensors.PrunableTensor` s.
A method only implements :meth:`MaskUpdater.compute_masks` — current masks and an amount in,
new masks out, in the spirit of ``torch.nn.utils.prune.BasePruningMethod.compute_mask`` and
jaxpruner's updaters. The base class applies the new masks (:meth:`MaskUpdater.apply_masks`)
and, used as a training step hook, runs an update every ``update_every`` steps with the
amount its schedule gives (:meth:`MaskUpdater.amount_at`).

Subclasses: :class:`hiddenstruct.pruning.Pruner` (drop only: criterion scores → selection;
:func:`~hiddenstruct.pruning.prune` is one update) and
:class:`hiddenstruct.sparse_training.DynamicSparsity` (drop and regrow: SET, RigL,
sparse momentum).

Example (a drop-only updater in a few lines)::

    >>> class DropSmallest(MaskUpdater):
    ...     def compute_masks(self, masks, amount, ctx=None):
    ...         return {n: m & ~select_top(-self.tensors[n].masked_weight.abs(), m, amount)
    ...                 for n, m in masks.items()}
    >>> DropSmallest(prunable_tensors(model)).update(10)   # 10 weights per tensor
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from hiddenstruct.errors import UsageError
from hiddenstruct.sparsity.tensors import PrunableTensor

if TYPE_CHECKING:  # type hints only: sparsity (like pruning) does not import the training loop
    from hiddenstruct.training.loop import StepContext

__all__ = ["MaskUpdater"]


class MaskUpdater:
    """Base of every mask-changing method: ``compute_masks`` (what), ``amount_at`` (when).

    ``tensors``: ``{name: PrunableTensor}`` (or a sequence, keyed by each tensor's name).
    ``update_every``: training steps between updates when used as a step hook
    (``train(..., step_hooks=[updater])`` calls :meth:`before_step` and :meth:`after_step`,
    the :class:`~hiddenstruct.training.loop.StepHook` protocol).
    """

    name = "updater"

    def __init__(
        self,
        tensors: Mapping[str, PrunableTensor] | Sequence[PrunableTensor],
        *,
        update_every: int = 1,
    ) -> None:
        if update_every < 1:
            raise UsageError(f"update_every must be >= 1 step, got {update_every}")
        if not isinstance(tensors, Mapping):
            tensors = {t.name: t for t in tensors}
        self.tensors: dict[str, PrunableTensor] = dict(tensors)
        self.update_every = int(update_every)
        self.updates = 0

    # --- what a method implements ---------------------------------------------------------
    def compute_masks(
        self, masks: dict[str, torch.Tensor], amount: Any, ctx: StepContext | None = None
    ) -> dict[str, torch.Tensor]:
        """New boolean masks from the current ones (``{name: bool tensor}``) and ``amount``."""
        raise NotImplementedError

    def amount_at(self, step: int, total_steps: int | None = None) -> Any:
        """The amount an update at training ``step`` uses; None or 0: no update."""
        return None

    # --- shared ---------------------------------------------------------------------------
    def current_masks(self) -> dict[str, torch.Tensor]:
        """``{name: bool mask}`` of every tensor now."""
        return {name: t.current_mask.bool() for name, t in self.tensors.items()}

    def apply_masks(
        self,
        before: dict[str, torch.Tensor],
        after: dict[str, torch.Tensor],
        ctx: StepContext | None = None,
    ) -> None:
        """Install the new masks (default: replace each tensor's mask)."""
        for name, tensor in self.tensors.items():
            tensor.set_mask(after[name])

    def update(
        self, amount: Any, ctx: StepContext | None = None
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """One update: compute and apply new masks; returns ``(before, after)``."""
        before = self.current_masks()
        after = self.compute_masks(before, amount, ctx)
        self.apply_masks(before, after, ctx)
        self.updates += 1
        return before, after

    def before_step(self, ctx: StepContext) -> None:
        """Called with gradients computed, before the optimizer step (nothing by default)."""

    def after_step(self, ctx: StepContext) -> None:
        """Every ``update_every`` steps, update with the schedule's amount (if positive)."""
        if ctx.step % self.update_every:
            return
        amount = self.amount_at(ctx.step, ctx.total_steps)
        if amount:
            self.update(amount, ctx)
