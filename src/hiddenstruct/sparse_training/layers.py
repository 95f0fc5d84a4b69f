"""The sparse tensors of a model and their initial masks (uniform or Erdős–Rényi(-Kernel)).

A *sparse layer* is one masked weight tensor (:func:`sparse_layers`: the prunable tensors
of scope ``"masked"``, see :mod:`hiddenstruct.sparsity.tensors`): every tensor that already
carries a mask (``MaskedDeepFFN.layers.<i>.weight``, ``MaskedRNN.layers.<l>.weight_ih`` and
``weight_hh`` separately, all gates); in a model without masks, every default prunable
tensor (masked on demand). The budget is spread by :mod:`hiddenstruct.sparsity.allocation`.

Example::

    >>> layers = init_sparse_masks(MaskedDeepFFN(784, 10, [300, 100]), 0.05, "erdos_renyi", seed=0)
    >>> sum(int(layer.mask.sum()) for layer in layers) == round(0.05 * 266200)
    True
"""

from __future__ import annotations

import torch
from torch import nn

from hiddenstruct.sparsity.allocation import DISTRIBUTIONS, allocate_counts, layer_counts
from hiddenstruct.sparsity.tensors import SparseLayer, sparse_layers

__all__ = [
    "DISTRIBUTIONS",
    "SparseLayer",
    "allocate_counts",
    "init_sparse_masks",
    "layer_counts",
    "sparse_layers",
]


def init_sparse_masks(
    model: nn.Module,
    density: float,
    distribution: str = "uniform",
    seed: int = 0,
    mask_plain: bool = True,
) -> list[SparseLayer]:
    """Replace every sparse layer's mask by a random one at total ``density``; return the layers.

    The kept entries of each layer are drawn uniformly at random (seeded); the weights
    under the new zeros are set to zero so that a mask entry switched on later starts at 0.
    """
    layers = sparse_layers(model, mask_plain)
    counts = layer_counts([layer.current_mask.shape for layer in layers], density, distribution)
    generator = torch.Generator().manual_seed(seed)
    for layer, count in zip(layers, counts, strict=True):
        order = torch.randperm(layer.numel, generator=generator)
        flat = torch.zeros(layer.numel)
        flat[order[:count]] = 1.0
        layer.set_mask(flat.reshape(layer.current_mask.shape))
        with torch.no_grad():
            layer.raw_weight.mul_(layer.current_mask)
    return layers
