"""Activation registry: name → (function, derivative expressed through the output).

The derivative is written as a function of the activation's *output* a = σ(z) so that
hand-written backward passes (see :mod:`hiddenstruct.nn.graphnet`) need to keep only the
activations, not the pre-activations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hiddenstruct.errors import lookup


@dataclass(frozen=True)
class Activation:
    """An element-wise non-linearity and its derivative as a function of its output."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    grad_from_output: Callable[[torch.Tensor], torch.Tensor]  # may return a bool tensor
    inplace: Callable[[torch.Tensor], torch.Tensor]  # fn applied in place (no autograd)


_LEAKY_SLOPE = 0.01

ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", torch.relu, lambda a: a > 0, torch.relu_),
    "leaky_relu": Activation(
        "leaky_relu",
        lambda z: F.leaky_relu(z, _LEAKY_SLOPE),
        lambda a: torch.where(a > 0, torch.ones_like(a), torch.full_like(a, _LEAKY_SLOPE)),
        lambda z: F.leaky_relu_(z, _LEAKY_SLOPE),
    ),
    "elu": Activation(
        "elu", F.elu, lambda a: torch.where(a > 0, torch.ones_like(a), a + 1.0), F.elu_
    ),
    "tanh": Activation("tanh", torch.tanh, lambda a: 1.0 - a * a, torch.tanh_),
    "sigmoid": Activation("sigmoid", torch.sigmoid, lambda a: a * (1.0 - a), torch.sigmoid_),
    "identity": Activation("identity", lambda z: z, torch.ones_like, lambda z: z),
}


def get_activation(name: str) -> Activation:
    """Look up an activation by name; unknown names raise :class:`UsageError` listing valid ones."""
    return lookup(ACTIVATIONS, name, "activation")
