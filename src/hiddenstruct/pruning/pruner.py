"""Pruning as a mask updater: drop only, criterion scores → selection → smaller masks.

:class:`Pruner` is the :class:`~hiddenstruct.sparsity.MaskUpdater` of pruning. One update
scores the tensors in scope with a criterion and lets a selection keep all but the
``amount`` lowest; :func:`~hiddenstruct.pruning.prune` is one update, and
:func:`~hiddenstruct.pruning.iterative_prune` runs updates with retraining in between.
With a ``schedule`` the pruner is also a training step hook (gradual pruning during
training: update ``k`` prunes ``schedule(k)``).

Example::

    >>> pruner = Pruner(model, "magnitude", "class_blinded")
    >>> pruner.prune(0.5).nonzero_fraction_after
    0.5
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from hiddenstruct.pruning.counts import StepCounts
from hiddenstruct.pruning.criteria import Criterion, make_criterion
from hiddenstruct.pruning.criteria import criterion_options as accepted
from hiddenstruct.pruning.schedules import Schedule
from hiddenstruct.pruning.selection import Selector, as_amount, get_selection
from hiddenstruct.sparsity.tensors import ScopeSpec, ensure_masks, resolve_scope
from hiddenstruct.sparsity.updater import MaskUpdater

if TYPE_CHECKING:  # pruning does not import the training loop (docs/pruning.md)
    from hiddenstruct.training.loop import StepContext

__all__ = ["PruneReport", "Pruner", "TensorCounts"]


@dataclass(frozen=True)
class TensorCounts:
    """Weights of one scoped tensor: total entries, unpruned before and after the step."""

    name: str
    total: int
    before: int
    after: int


@dataclass(frozen=True)
class PruneReport(StepCounts):
    """What one pruning step did, per tensor, and how the scores were computed."""

    criterion: str
    selection: str
    amount: str
    tensors: tuple[TensorCounts, ...]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(t.total for t in self.tensors)

    def parts(self) -> tuple[TensorCounts, ...]:
        return self.tensors

    @property
    def nonzero_fraction_before(self) -> float:
        """Fraction of scoped weights unpruned before the step."""
        return self.before / self.total if self.total else 0.0

    @property
    def nonzero_fraction_after(self) -> float:
        """Fraction of scoped weights unpruned after the step (the paper's ξ over the scope)."""
        return self.after / self.total if self.total else 0.0

    @property
    def zero_fraction_after(self) -> float:
        return 1.0 - self.nonzero_fraction_after

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "pruned": self.pruned,
            "nonzero_fraction_after": self.nonzero_fraction_after,
        }


def name_of(thing: Any) -> str:
    """A criterion's or selection's name (its ``name``, ``__name__`` or the string itself)."""
    return (
        thing
        if isinstance(thing, str)
        else getattr(thing, "name", getattr(thing, "__name__", repr(thing)))
    )


class Pruner(MaskUpdater):
    """Drop only: ``criterion`` scores the tensors in ``scope``, ``selection`` prunes the lowest.

    ``data``: loader for data-dependent criteria (OBD, L-OBS). ``seed``: for the random
    criterion (only criteria that take a seed get it). ``max_count``: never prune more than
    this many weights in one update. ``schedule`` and ``update_every``: as a training step
    hook, every ``update_every`` steps update ``k`` prunes ``schedule(k)`` (None: stop).
    Scoped tensors without a mask get an all-ones mask.
    """

    name = "prune"

    def __init__(
        self,
        model: nn.Module,
        criterion: str | Criterion = "magnitude",
        selection: str | Selector = "class_blinded",
        *,
        scope: ScopeSpec = None,
        data: Iterable | None = None,
        seed: int | None = None,
        criterion_options: dict[str, Any] | None = None,
        max_count: int | None = None,
        schedule: Schedule | None = None,
        update_every: int = 1,
    ) -> None:
        options = dict(criterion_options or {})
        if seed is not None and isinstance(criterion, str) and "seed" in accepted(criterion):
            options.setdefault("seed", seed)  # only criteria with randomness take the seed
        self.criterion = make_criterion(criterion, **options)
        self.selection = selection
        self.select = get_selection(selection)
        targets = resolve_scope(model, scope)
        ensure_masks(targets)
        super().__init__(targets, update_every=update_every)
        self.model = model
        self.data = data
        self.max_count = max_count
        self.schedule = schedule
        self.saliency = None

    def compute_masks(
        self, masks: dict[str, torch.Tensor], amount: Any, ctx: StepContext | None = None
    ) -> dict[str, torch.Tensor]:
        self.saliency = self.criterion.scores(self.model, self.tensors, self.data)
        return self.select(self.saliency.scores, masks, as_amount(amount), max_count=self.max_count)

    def apply_masks(self, before, after, ctx: StepContext | None = None) -> None:
        """Install the smaller masks; a selection that revives a weight is a bug (raises)."""
        for name in self.tensors:
            if torch.any(after[name] & ~before[name]):
                raise RuntimeError(
                    f"selection {name_of(self.selection)!r} revived weights of {name}"
                )
        super().apply_masks(before, after, ctx)

    def amount_at(self, step: int, total_steps: int | None = None) -> Any:
        return None if self.schedule is None else self.schedule(self.updates)

    def prune(self, amount: Any) -> PruneReport:
        """One update pruning ``amount`` (fraction, count or Bucket); returns its report."""
        amount = as_amount(amount)
        before, after = self.update(amount)
        details = dict(self.saliency.details)
        compensate = getattr(self.criterion, "compensate", None)
        if compensate is not None:
            details.update(compensate(self.model, self.tensors, before, after, self.saliency))
        counts = tuple(
            TensorCounts(
                name, before[name].numel(), int(before[name].sum()), int(after[name].sum())
            )
            for name in self.tensors
        )
        return PruneReport(
            name_of(self.criterion), name_of(self.selection), repr(amount), counts, details
        )
