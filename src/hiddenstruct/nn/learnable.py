"""Learnable masks: the structure trained with the weights, binary at inference.

After deepstruct's ``MaskedLinearLayer(mask_as_params=True)``: every weight ``w`` gets two
logits ``(ℓ_off, ℓ_on)``; ``p = softmax((ℓ_off, ℓ_on) / T)_on`` is the probability that the
connection is live and the hard mask is ``ℓ_on > ℓ_off`` (the argmax). A
:class:`LearnableMask` is a parametrization of the weight (like :class:`~.masking.Mask`), so
the logits are parameters of the model and any optimizer trains them with the weights:

* training, ``relaxation="straight_through"`` (default): the forward pass uses the hard mask,
  the backward pass the gradient of ``p`` (straight-through estimator);
* training, ``relaxation="softmax"``: the forward pass uses ``w · p`` (softmax-relaxed);
* evaluation (``model.eval()``): always the hard, binary mask.

:func:`expected_density` (the mean ``p``) is a differentiable sparsity term to add to the
loss. :func:`learned_graph` reads the learned structure as a graph (the hard masks; inputs
and outputs kept, as :func:`~hiddenstruct.graphs.to_graph`); :func:`harden` turns the learned
masks into ordinary binary masks, after which pruning, compaction and graph tools see a
plain masked model. A weight that already carries a binary mask keeps it: the learnable
mask multiplies on top (it can only remove connections the binary mask keeps).

Initial logits ``(0, log(q / (1 − q)))`` give every connection the probability ``q =
init_probability`` (default 0.9: our choice, all connections live at the start, as in a
dense net, but with room to fall) of being live.

Example::

    >>> net = MaskedDeepFFN(10, 2, [8])
    >>> apply_learnable_masks(net)
    >>> loss = F.cross_entropy(net(x), y) + 1e-2 * expected_density(net)
    >>> G = learned_graph(net)        # the structure learned so far
"""

from __future__ import annotations

import math

import networkx as nx
import torch
from torch import nn
from torch.nn.utils import parametrize

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs.convert import to_graph
from hiddenstruct.nn.masking import _own_class, apply_mask, get_mask, masked_modules

RELAXATIONS = ("straight_through", "softmax")
_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


class LearnableMask(nn.Module):
    """Parametrization ``w ↦ w · m`` with ``m`` from two learnable logits per entry."""

    def __init__(
        self,
        shape: torch.Size,
        init_probability: float = 0.9,
        relaxation: str = "straight_through",
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        if relaxation not in RELAXATIONS:
            raise UsageError(f"unknown relaxation {relaxation!r}; valid: {', '.join(RELAXATIONS)}")
        if not 0.0 < init_probability < 1.0:
            raise UsageError(f"init_probability must be in (0, 1), got {init_probability}")
        if not temperature > 0:
            raise UsageError(f"temperature must be positive, got {temperature}")
        self.relaxation = relaxation
        self.temperature = float(temperature)
        logits = torch.zeros(*shape, 2)
        logits[..., 1] = math.log(init_probability / (1.0 - init_probability))
        self.logits = nn.Parameter(logits)

    def probability(self) -> torch.Tensor:
        """``p``: the probability of each connection being live (differentiable)."""
        return torch.softmax(self.logits / self.temperature, dim=-1)[..., 1]

    def hard(self) -> torch.Tensor:
        """The binary mask (``ℓ_on > ℓ_off``), no gradient."""
        logits = self.logits.detach()
        return (logits[..., 1] > logits[..., 0]).to(logits.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x * self.hard()
        p = self.probability()
        if self.relaxation == "softmax":
            return x * p
        return x * (self.hard() + (p - p.detach()))  # value: hard; gradient: through p

    def extra_repr(self) -> str:
        kept = int(self.hard().sum())
        return (
            f"shape={tuple(self.logits.shape[:-1])}, kept={kept}/{self.hard().numel()}, "
            f"relaxation={self.relaxation!r}, temperature={self.temperature}"
        )


def _learnable_of(module: nn.Module, name: str) -> LearnableMask | None:
    chain = module.parametrizations[name] if parametrize.is_parametrized(module, name) else ()
    return next((p for p in chain if isinstance(p, LearnableMask)), None)


def apply_learnable_mask(
    module: nn.Module,
    name: str = "weight",
    *,
    init_probability: float = 0.9,
    relaxation: str = "straight_through",
    temperature: float = 1.0,
) -> LearnableMask:
    """Give ``module.<name>`` a :class:`LearnableMask` (on top of a binary mask, if any)."""
    if _learnable_of(module, name) is not None:
        raise UsageError(f"{type(module).__name__}.{name} already has a learnable mask")
    param = getattr(module, name, None)
    if not isinstance(param, torch.Tensor):
        raise UsageError(f"{type(module).__name__} has no tensor named {name!r}")
    mask = LearnableMask(param.shape, init_probability, relaxation, temperature)
    mask = mask.to(param.device, param.dtype)
    _own_class(module)
    parametrize.register_parametrization(module, name, mask)
    return mask


def apply_learnable_masks(model: nn.Module, **options) -> dict[str, LearnableMask]:
    """A learnable mask on every masked weight and every Linear/Conv weight of ``model``.

    ``options`` go to :func:`apply_learnable_mask`. Returns name → mask.
    """
    targets = {full: (module, tensor) for full, module, tensor in masked_modules(model)}
    for module_name, module in model.named_modules():
        if isinstance(module, _PRUNABLE):
            full = f"{module_name}.weight" if module_name else "weight"
            targets.setdefault(full, (module, "weight"))
    if not targets:
        raise UsageError(
            f"{type(model).__name__} has no masked weights and no Linear/Conv layers to mask"
        )
    return {
        full: apply_learnable_mask(module, tensor, **options)
        for full, (module, tensor) in targets.items()
    }


def _learnable_targets(model: nn.Module):
    for module_name, module in model.named_modules():
        if not parametrize.is_parametrized(module):
            continue
        for tensor in list(module.parametrizations.keys()):
            mask = _learnable_of(module, tensor)
            if mask is not None:
                full = f"{module_name}.{tensor}" if module_name else tensor
                yield full, module, tensor, mask


def learnable_masks(model: nn.Module) -> dict[str, LearnableMask]:
    """Every :class:`LearnableMask` of ``model`` by qualified tensor name."""
    return {full: mask for full, _, _, mask in _learnable_targets(model)}


def expected_density(model: nn.Module) -> torch.Tensor:
    """Mean live probability over every learnable mask entry (differentiable; a loss term)."""
    masks = list(learnable_masks(model).values())
    if not masks:
        raise UsageError(f"{type(model).__name__} has no learnable masks")
    total = sum(m.logits.shape[:-1].numel() for m in masks)
    return sum(m.probability().sum() for m in masks) / total


def learned_graph(model: nn.Module, *, hidden_only: bool = False) -> nx.DiGraph:
    """:func:`~hiddenstruct.graphs.to_graph` of ``model`` with its hard (binary) masks.

    The model is read in evaluation mode (its mode is restored afterwards).
    """
    training = model.training
    model.eval()
    try:
        return to_graph(model, hidden_only=hidden_only)
    finally:
        model.train(training)


def harden(model: nn.Module) -> nn.Module:
    """Replace every learnable mask by a binary mask of its hard values (in place).

    A weight that also had a binary mask gets the product of both. The weight parameter
    object stays the same (optimizers over the weights keep working); the logits are gone.
    """
    for _, module, tensor, learned in list(_learnable_targets(model)):
        keep = learned.hard()
        binary = get_mask(module, tensor)
        if binary is not None:
            keep = keep * binary
        _own_class(module)
        parametrize.remove_parametrizations(module, tensor, leave_parametrized=False)
        apply_mask(module, tensor, keep.detach().clone())
    return model
