"""The paper's ξ and friends: pure functions on tensors and modules.

On a module they count the module's prunable tensors (masks applied; the default scope of
:func:`~hiddenstruct.sparsity.prunable_tensors`: masked tensors and the weight matrices of
Linear, Conv and recurrent layers, never biases or embeddings) — what pruning prunes.

``nonzero_fraction(x)`` is the paper's sparsity ξ(x) = ‖x‖₀ / d (fraction of non-zeros);
``zero_fraction(x)`` is its complement (a.k.a. compression). We never use a bare
"sparsity" because the word is used with both meanings in the literature.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hiddenstruct.sparsity.tensors import ScopeSpec, prunable_tensors


def _effective_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The masked weights of ``model``'s prunable tensors (the default scope), by name."""
    return {name: t.masked_weight for name, t in prunable_tensors(model).items()}


def nonzero_fraction(x: torch.Tensor | nn.Module) -> float:
    """ξ: fraction of non-zero entries of a tensor, or of a module's prunable tensors."""
    if isinstance(x, nn.Module):
        tensors = list(_effective_weights(x).values())
        total = sum(t.numel() for t in tensors)
        if total == 0:
            return 0.0
        return sum(int(torch.count_nonzero(t)) for t in tensors) / total
    x = torch.as_tensor(x)
    if x.numel() == 0:
        return 0.0
    return int(torch.count_nonzero(x)) / x.numel()


def zero_fraction(x: torch.Tensor | nn.Module) -> float:
    """1 − ξ: fraction of zero entries (the compression rate)."""
    return 1.0 - nonzero_fraction(x)


def grouped_nonzero_fraction(model: nn.Module, dim: int = 1) -> float:
    """ξ(f) = (1/|W|) Σ_{x∈W} ξ(x) over grouped vectors.

    Default grouping: each neuron's incoming weight vector, i.e. the rows of every
    weight matrix (``dim=1`` reduces over the input dimension). Convolution kernels
    are flattened per output channel; a 1-D weight vector (e.g. GraphNet's ``edges.weight``)
    counts as one group.
    """
    fractions = []
    for tensor in _effective_weights(model).values():
        if tensor.dim() < 2:
            fractions.append((tensor != 0).float().mean().reshape(1))
            continue
        rows = (
            tensor.reshape(tensor.shape[0], -1)
            if dim == 1
            else tensor.reshape(-1, tensor.shape[-1]).T
        )
        fractions.append((rows != 0).float().mean(dim=1))
    if not fractions:
        return 0.0
    return float(torch.cat(fractions).mean())


@dataclass(frozen=True)
class LayerSparsity:
    name: str
    weights: int
    nonzeros: int

    @property
    def nonzero_fraction(self) -> float:
        return self.nonzeros / self.weights if self.weights else 0.0


@dataclass(frozen=True)
class SparsityReport:
    """Per-layer weights, non-zeros and fraction; ``str()`` renders a table."""

    layers: tuple[LayerSparsity, ...]

    @property
    def weights(self) -> int:
        return sum(layer.weights for layer in self.layers)

    @property
    def nonzeros(self) -> int:
        return sum(layer.nonzeros for layer in self.layers)

    @property
    def nonzero_fraction(self) -> float:
        return self.nonzeros / self.weights if self.weights else 0.0

    def to_rows(self) -> list[dict]:
        return [
            {
                "layer": layer.name,
                "weights": layer.weights,
                "nonzeros": layer.nonzeros,
                "nonzero_fraction": layer.nonzero_fraction,
            }
            for layer in self.layers
        ]

    def __str__(self) -> str:
        width = max([len("total"), *(len(layer.name) for layer in self.layers)])
        lines = [f"{'layer':<{width}}  {'weights':>10}  {'non-zeros':>10}  {'fraction':>8}"]
        for layer in (*self.layers, LayerSparsity("total", self.weights, self.nonzeros)):
            lines.append(
                f"{layer.name:<{width}}  {layer.weights:>10}  {layer.nonzeros:>10}  "
                f"{layer.nonzero_fraction:>8.4f}"
            )
        return "\n".join(lines)


def sparsity_report(model: nn.Module, scope: ScopeSpec = None) -> SparsityReport:
    """Per-tensor report of ``model``'s prunable tensors (masks applied), those ``scope``
    chooses (:func:`~hiddenstruct.sparsity.prunable_tensors`; default: all of them)."""
    layers = tuple(
        LayerSparsity(name, t.numel, int(torch.count_nonzero(t.masked_weight)))
        for name, t in prunable_tensors(model, scope).items()
    )
    return SparsityReport(layers)
