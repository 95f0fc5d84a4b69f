"""Deep feed-forward network whose every weight matrix carries a binary mask.

``MaskedDeepFFN(784, 10, [300, 100])`` is LeNet-300-100: ``nn.Linear`` layers whose
``weight`` is masked (all-ones masks at construction, so the ``state_dict`` of a fresh
model already has the mask keys and any two fresh models load each other's state).
Input shapes such as ``(1, 28, 28)`` are accepted and flattened.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import networkx as nx
import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn.activations import get_activation
from hiddenstruct.nn.masking import apply_mask


def feature_count(
    input_size: int | Sequence[int], what: str = "input_size"
) -> tuple[int, tuple[int, ...]]:
    """``(number of features, shape)`` of an int or a shape like ``(1, 28, 28)``."""
    shape = (input_size,) if isinstance(input_size, int) else tuple(input_size)
    if not shape or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape
    ):
        raise UsageError(
            f"{what} must be a positive int or a shape of positive ints, got {input_size!r}"
        )
    return math.prod(shape), shape


def _check_positive(value, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UsageError(f"{what} must be a positive int, got {value!r}")
    return value


class MaskedDeepFFN(nn.Module):
    """Feed-forward net ``input → hidden_sizes… → output`` with a mask on every weight.

    Hidden layers compute ``σ(LN((W ⊙ M) a + b))`` (LayerNorm only with ``layer_norm``);
    the last layer is linear (logits). ``layers[i].weight`` are the masked tensors.
    """

    def __init__(
        self,
        input_size: int | Sequence[int],
        output_size: int,
        hidden_sizes: Sequence[int] = (),
        activation: str = "relu",
        layer_norm: bool = False,
    ) -> None:
        super().__init__()
        self.input_features, self.input_shape = feature_count(input_size)
        self.output_size = _check_positive(output_size, "output_size")
        hidden = [_check_positive(h, "every hidden size") for h in hidden_sizes]
        get_activation(activation)
        self.hidden_sizes = tuple(hidden)
        self.activation = activation
        self.layer_norm = bool(layer_norm)
        sizes = [self.input_features, *hidden, self.output_size]
        self.layers = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.norms = (
            nn.ModuleList(nn.LayerNorm(h) for h in hidden) if layer_norm else nn.ModuleList()
        )
        for layer in self.layers:
            apply_mask(layer, "weight", torch.ones_like(layer.weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch ``x`` of shape ``[B, *input_shape]`` (or ``[B, input_features]``)."""
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.input_features:
            raise UsageError(
                f"expected {self.input_features} input features per sample, got {x.shape[1]}"
            )
        act = get_activation(self.activation).fn
        for i, layer in enumerate(self.layers[:-1]):
            x = layer(x)
            if self.layer_norm:
                x = self.norms[i](x)
            x = act(x)
        return self.layers[-1](x)

    def effective_weights(self) -> list[torch.Tensor]:
        """The weight matrices with masks applied (detached), first layer first."""
        return [layer.weight.detach() for layer in self.layers]

    def structure_graph(self, include_io: bool = True) -> nx.DiGraph:
        """Graph of live connections (mask · weight ≠ 0); see :func:`layered_structure_graph`."""
        return layered_structure_graph(self.effective_weights(), include_io)

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}, layer_norm={self.layer_norm}, input_shape={self.input_shape}"


def layered_structure_graph(weights: Sequence[torch.Tensor], include_io: bool = True) -> nx.DiGraph:
    """Graph of a chain of weight matrices ``[W_0 (h0×in), W_1 (h1×h0), …, W_L (out×h_{L-1})]``.

    Hidden neurons are labelled ``0 … N−1`` consecutively (layer by layer) with node
    attributes ``layer`` (hidden layer index, from 0), ``unit`` (row in its layer) and
    ``role="hidden"``. With ``include_io`` the inputs ``("in", i)`` (``layer=-1``) and
    outputs ``("out", j)`` (``layer`` = number of hidden layers) are added. One edge per
    non-zero weight.
    """
    G = nx.DiGraph()
    hidden_layers = len(weights) - 1
    offsets = [0]
    for w in weights[:-1]:
        offsets.append(offsets[-1] + w.shape[0])
    for layer in range(hidden_layers):
        n = weights[layer].shape[0]
        G.add_nodes_from(
            (offsets[layer] + i, {"layer": layer, "unit": i, "role": "hidden"}) for i in range(n)
        )

    def label(layer: int, i: int):
        if layer < 0:
            return ("in", i)
        if layer >= hidden_layers:
            return ("out", i)
        return offsets[layer] + i

    if include_io:
        G.add_nodes_from(
            (("in", i), {"layer": -1, "unit": i, "role": "input"})
            for i in range(weights[0].shape[1])
        )
        G.add_nodes_from(
            (("out", j), {"layer": hidden_layers, "unit": j, "role": "output"})
            for j in range(weights[-1].shape[0])
        )
    for k, w in enumerate(weights):
        target_layer, source_layer = k, k - 1
        if not include_io and (source_layer < 0 or target_layer >= hidden_layers):
            continue
        rows, cols = torch.nonzero(w, as_tuple=True)
        G.add_edges_from(
            (label(source_layer, c), label(target_layer, r))
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
        )
    return G
