"""What a pruning criterion returns: scores per prunable tensor and how they were computed
(its own module so that criteria and the criteria they are built from, such as L-OBS, share it
without importing each other)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class Saliency:
    """Scores per target name plus a description of how they were computed.

    ``state``: what the criterion's optional ``compensate`` step needs after the selection
    (L-OBS: each layer's Hessian and its inverse); not part of the report.
    """

    scores: dict[str, torch.Tensor]
    details: dict[str, Any] = field(default_factory=dict)
    state: Any = field(default=None, compare=False, repr=False)
