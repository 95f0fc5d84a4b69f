"""Dense gradients dL/d(W ⊙ M) of masked tensors, including the entries the mask zeroes.

The parameter's own gradient is masked (zero where M = 0). RigL and sparse momentum need
the gradient with respect to the *effective* weight W ⊙ M, which autograd computes anyway
one step before multiplying by the mask: a forward hook on each
:class:`~hiddenstruct.nn.masking.Mask` module catches that tensor. While they run, the
recurrent engine's sparse products are off (:func:`~hiddenstruct.nn.rnn_native.dense_products`):
those return the gradient of ``W ⊙ M`` only on the mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hiddenstruct.nn.masking import Mask
from hiddenstruct.nn.rnn_native import dense_products
from hiddenstruct.sparsity.tensors import SparseLayer

__all__ = ["DenseGradientRecorder", "dense_gradients"]


def _mask_module(layer: SparseLayer) -> Mask:
    for parametrization in layer.module.parametrizations[layer.tensor_name]:
        if isinstance(parametrization, Mask):
            return parametrization
    raise ValueError(f"{layer.name} carries no Mask parametrization")


class _Outputs:
    """Forward hooks collecting each Mask's outputs (one per access of the weight)."""

    def __init__(self, layers: Sequence[SparseLayer]) -> None:
        self.outputs: list[list[torch.Tensor]] = [[] for _ in layers]
        self.handles = [
            _mask_module(layer).register_forward_hook(self._hook(i))
            for i, layer in enumerate(layers)
        ]

    def _hook(self, index: int):
        def hook(module: nn.Module, args, output: torch.Tensor) -> None:
            if output.requires_grad:
                self.outputs[index].append(output)

        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def dense_gradients(
    model: nn.Module, layers: Sequence[SparseLayer], inputs: list, target: torch.Tensor, loss_fn
) -> list[torch.Tensor]:
    """dL/d(W ⊙ M) for each layer on one batch (an extra forward and backward pass).

    Parameters' ``.grad`` are left untouched (``torch.autograd.grad``).
    """
    capture = _Outputs(layers)
    try:
        with torch.enable_grad(), dense_products():
            loss = loss_fn(model(*inputs), target)
    finally:
        capture.remove()
    flat = [t for outs in capture.outputs for t in outs]
    if not flat:
        raise RuntimeError("the forward pass never read the masked weights; no gradient")
    grads = iter(torch.autograd.grad(loss, flat, allow_unused=True))
    result = []
    for layer, outs in zip(layers, capture.outputs, strict=True):
        total = torch.zeros_like(layer.current_mask)
        for _ in outs:
            g = next(grads)
            if g is not None:
                total += g
        result.append(total)
    return result


class DenseGradientRecorder:
    """Accumulate dL/d(W ⊙ M) of every training backward pass until :meth:`take`.

    Registers forward hooks on the masks and keeps the recurrent engine's products dense;
    :meth:`close` removes the hooks and ends that (also as a context manager), so the model
    deep-copies and pickles cleanly afterwards.
    """

    def __init__(self, layers: Sequence[SparseLayer]) -> None:
        self.sums = [torch.zeros_like(layer.current_mask) for layer in layers]
        self.handles = [
            _mask_module(layer).register_forward_hook(self._hook(i))
            for i, layer in enumerate(layers)
        ]
        self._dense = dense_products()
        self._dense.__enter__()

    def _hook(self, index: int):
        def add(grad: torch.Tensor) -> None:
            self.sums[index].add_(grad.detach())

        def hook(module: nn.Module, args, output: torch.Tensor) -> None:
            if output.requires_grad and torch.is_grad_enabled():
                output.register_hook(add)

        return hook

    def take(self) -> list[torch.Tensor]:
        """The gradients summed since the last call (then reset to zero)."""
        taken = [s.clone() for s in self.sums]
        for s in self.sums:
            s.zero_()
        return taken

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []
        if self._dense is not None:
            self._dense.__exit__(None, None, None)
            self._dense = None

    def __enter__(self) -> DenseGradientRecorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
