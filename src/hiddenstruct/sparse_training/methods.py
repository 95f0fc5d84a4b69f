"""SET, RigL and sparse momentum: how each regrows (the shared loop is in :mod:`.dynamic`).

Example::

    >>> net = MaskedDeepFFN(784, 10, [300, 100])
    >>> init_sparse_masks(net, 0.05, "erdos_renyi", seed=0)
    >>> rigl = RigL(net, update_every=100, fraction=0.3)
    >>> train(net, loader, epochs=10, step_hooks=[rigl])
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hiddenstruct.errors import UsageError, lookup
from hiddenstruct.sparse_training.dynamic import DynamicSparsity
from hiddenstruct.sparse_training.gradients import DenseGradientRecorder, dense_gradients
from hiddenstruct.sparsity.allocation import allocate_counts
from hiddenstruct.sparsity.tensors import SparseLayer
from hiddenstruct.training.loop import StepContext

__all__ = ["METHODS", "RigL", "SET", "SparseMomentum", "make_method"]


class SET(DynamicSparsity):
    """Sparse Evolutionary Training (Mocanu et al. 2018): regrow at random among the zeros."""

    name = "set"
    default_schedule = "constant"
    default_stop_fraction = None

    def grow_scores(self, index: int, layer: SparseLayer) -> torch.Tensor:
        scores = torch.rand(layer.current_mask.shape, generator=self.generator)
        return scores.to(layer.current_mask.device)


class RigL(DynamicSparsity):
    """The Rigged Lottery (Evci et al. 2020): regrow the zeros of largest dense-gradient
    magnitude, computed on the update step's batch only; fraction cosine-decayed to 0 at
    ``stop_fraction`` (default 0.75) of training."""

    name = "rigl"
    default_schedule = "cosine"
    default_stop_fraction = 0.75

    def __init__(self, model: nn.Module, **options: Any) -> None:
        super().__init__(model, **options)
        self._grads: list[torch.Tensor] = []

    def prepare_scores(self, ctx: StepContext | None) -> None:
        if ctx is None:
            raise UsageError("RigL needs a batch for its gradient: call update() from train()")
        self._grads = dense_gradients(self.model, self.layers, ctx.inputs, ctx.target, ctx.loss_fn)

    def grow_scores(self, index: int, layer: SparseLayer) -> torch.Tensor:
        return self._grads[index].abs()


class SparseMomentum(DynamicSparsity):
    """Sparse momentum (Dettmers & Zettlemoyer 2019): regrow the zeros of largest momentum
    magnitude, the regrowth budget split across layers ∝ each layer's mean momentum
    magnitude over its live weights; fraction cosine-decayed to 0 at the end of training.

    The momentum is an exponential average (``momentum``, default 0.9) of the dense
    gradients dL/d(W ⊙ M) of every step, kept here, independent of the optimizer.
    Call :meth:`close` (or use ``with``) after training to remove its hooks.
    """

    name = "sparse_momentum"
    default_schedule = "cosine"
    default_stop_fraction = 1.0

    def __init__(self, model: nn.Module, *, momentum: float = 0.9, **options: Any) -> None:
        options.setdefault("fraction", 0.5)
        super().__init__(model, **options)
        if not 0.0 <= momentum < 1.0:
            raise UsageError(f"momentum must be in [0, 1), got {momentum}")
        self.beta = float(momentum)
        self.recorder = DenseGradientRecorder(self.layers)
        self.momenta = [torch.zeros_like(layer.current_mask) for layer in self.layers]

    def after_step(self, ctx: StepContext) -> None:
        if self.recorder.handles:
            for m, g in zip(self.momenta, self.recorder.take(), strict=True):
                m.mul_(self.beta).add_(g)
        super().after_step(ctx)

    def grow_counts(self, dropped: list[int], capacity: list[int]) -> list[int]:
        means = []
        for layer, m in zip(self.layers, self.momenta, strict=True):
            live = layer.current_mask.bool()
            means.append(float(m.abs()[live].mean()) if live.any() else 0.0)
        if sum(means) <= 0:  # no momentum yet: keep each layer's count
            return list(dropped)
        return allocate_counts(means, sum(dropped), capacity)

    def grow_scores(self, index: int, layer: SparseLayer) -> torch.Tensor:
        return self.momenta[index].abs()

    def close(self) -> None:
        """Remove the gradient hooks (the model then deep-copies and pickles cleanly)."""
        self.recorder.close()

    def __enter__(self) -> SparseMomentum:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: Dynamic sparse training methods by name.
METHODS: dict[str, type[DynamicSparsity]] = {
    "set": SET,
    "rigl": RigL,
    "sparse_momentum": SparseMomentum,
}


def make_method(name: str, model: nn.Module, **options: Any) -> DynamicSparsity:
    """The method called ``name`` on ``model``; unknown names fail listing the valid ones."""
    return lookup(METHODS, name, "sparse training method")(model, **options)
