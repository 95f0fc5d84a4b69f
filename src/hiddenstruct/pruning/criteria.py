"""Saliency criteria: one small class per criterion, looked up in :data:`CRITERIA`.

A criterion's ``scores(model, targets, data=None) -> Saliency`` returns one score tensor per
target (same shape as the weight; lower = prune first) and ``details`` saying how the scores
were obtained (for OBD: which Hessian-diagonal method was used). Scores of already pruned
entries are ignored by the selectors.

Example::

    >>> criterion = make_criterion("random", seed=3)
    >>> saliency = criterion.scores(model, resolve_scope(model))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from hiddenstruct.errors import UsageError, check_choice, lookup
from hiddenstruct.pruning.lobs import LOBS_UPDATES, LOBSCriterion
from hiddenstruct.pruning.obd import OBD_METHODS, hessian_diagonal
from hiddenstruct.pruning.saliency import Saliency
from hiddenstruct.pruning.selection import spread_scaled
from hiddenstruct.sparsity.tensors import PrunableTensor


class Criterion(Protocol):
    """``scores`` ranks weights; a criterion may also define
    ``compensate(model, targets, before, after, saliency) -> dict`` which the engine calls
    after the new masks are applied, to update the remaining weights (L-OBS does); its dict
    joins the report's details."""

    name: str

    def scores(
        self, model: nn.Module, targets: dict[str, PrunableTensor], data=None
    ) -> Saliency: ...


@dataclass(frozen=True)
class RandomCriterion:
    """Uniform random scores from a seeded generator (same seed → same scores)."""

    seed: int = 0
    name: str = "random"

    def scores(self, model, targets, data=None) -> Saliency:
        generator = torch.Generator().manual_seed(int(self.seed))
        out = {
            n: torch.rand(t.masked_weight.shape, generator=generator, dtype=torch.float64)
            for n, t in targets.items()
        }
        return Saliency(out, {"criterion": self.name, "seed": int(self.seed)})


@dataclass(frozen=True)
class MagnitudeCriterion:
    """|w| of the current (masked) weights."""

    name: str = "magnitude"

    def scores(self, model, targets, data=None) -> Saliency:
        out = {n: t.masked_weight.abs().double().cpu() for n, t in targets.items()}
        return Saliency(out, {"criterion": self.name})


@dataclass(frozen=True)
class MagnitudeDistributedCriterion:
    """|w| / std of the tensor's unpruned |w| (:func:`~hiddenstruct.pruning.selection.spread`).

    With ``class_blinded`` this selects exactly what ``magnitude`` + ``class_distributed`` does.
    """

    name: str = "magnitude_distributed"

    def scores(self, model, targets, data=None) -> Saliency:
        magnitudes = {n: t.masked_weight.abs().double().cpu() for n, t in targets.items()}
        masks = {n: t.current_mask.cpu() for n, t in targets.items()}
        return Saliency(spread_scaled(magnitudes, masks), {"criterion": self.name})


@dataclass(frozen=True)
class OBDCriterion:
    """Optimal Brain Damage: s_k = ½ · h_kk · w_k², h_kk the loss Hessian's diagonal over ``data``.

    ``method``: ``"exact"`` (closed form, piecewise-linear Linear nets only; raises otherwise),
    ``"hutchinson"`` (E[z ⊙ Hz], Rademacher z, ``probes`` per batch, seeded), ``"fisher"``
    (empirical Fisher Σ g_n², Linear layers) or ``"auto"`` (exact when supported, else Hutchinson).
    """

    method: str = "auto"
    probes: int = 8
    seed: int = 0
    max_batches: int | None = None
    name: str = "obd"

    def scores(self, model, targets, data=None) -> Saliency:
        if data is None:
            raise UsageError(
                "the obd criterion needs data (a loader of (inputs..., target) batches)"
            )
        diag, used = hessian_diagonal(
            model,
            targets,
            data,
            method=self.method,
            probes=self.probes,
            seed=self.seed,
            max_batches=self.max_batches,
        )
        out = {
            n: 0.5 * diag[n].double().cpu() * targets[n].masked_weight.double().cpu() ** 2
            for n in targets
        }
        details = {"criterion": self.name, "hessian_diagonal": used, "requested": self.method}
        if used == "hutchinson":
            details["probes"] = self.probes
            details["seed"] = self.seed
        return Saliency(out, details)


CRITERIA: dict[str, type] = {
    "random": RandomCriterion,
    "magnitude": MagnitudeCriterion,
    "magnitude_distributed": MagnitudeDistributedCriterion,
    "obd": OBDCriterion,
    "lobs": LOBSCriterion,
}


def criterion_options(name: str) -> tuple[str, ...]:
    """The options criterion ``name`` accepts (its constructor's fields)."""
    fields = lookup(CRITERIA, name, "criterion").__dataclass_fields__
    return tuple(f for f in fields if f != "name")


def make_criterion(criterion: str | Criterion, **options) -> Criterion:
    """Build a criterion by name (options go to its constructor) or pass an instance through.

    An option the criterion does not take is a :class:`UsageError` listing the valid ones.
    """
    if not isinstance(criterion, str):
        if options:
            raise UsageError(
                f"options {', '.join(sorted(options))} given with a criterion instance; "
                "set them on the instance instead"
            )
        return criterion
    accepted = criterion_options(criterion)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise UsageError(
            f"criterion {criterion!r} takes no option(s) {', '.join(unknown)}; "
            f"valid: {', '.join(accepted) or '(none)'}"
        )
    if criterion == "obd":
        check_choice(options.get("method", "auto"), OBD_METHODS, "OBD method")
    if criterion == "lobs":
        check_choice(options.get("update", "joint"), LOBS_UPDATES, "lobs update")
    return CRITERIA[criterion](**options)
