"""Pruning schedules: pure functions of the step saying how much to prune.

A schedule is called as ``schedule(step) -> Amount | None`` (``step`` counts from 0;
``None`` means the schedule is finished). Amounts are interpreted by the selectors
(:mod:`hiddenstruct.pruning.selection`): fractions are of the *remaining* weights.

* ``one_shot(p)`` — prune ``p`` (fraction or count) once.
* ``relative(p)`` — prune a fraction ``p`` of the remaining weights at every step.
* ``fixed_size(n)`` — prune ``n`` weights at every step.
* ``bucket(B)`` — prune the lowest-saliency weights until their summed saliency fills B
  (the crossing weight is included; see :mod:`selection`).
* ``percentages(ps)`` — one step per entry, each a fraction of the *original* scoped
  weights (the paper's p = 10 … 100 % from a common base; used with ``from_base=True``).

Stopping (:class:`StopCriteria`) is separate: a target zero fraction, a minimal number of
remaining weights, an accuracy drop or a maximal number of steps.

Example::

    >>> [relative(0.2)(k) for k in range(2)]
    [Fraction(value=0.2), Fraction(value=0.2)]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hiddenstruct.errors import UsageError, lookup
from hiddenstruct.pruning.selection import Amount, Bucket, Count, Fraction, as_amount

Schedule = Callable[[int], Amount | None]


@dataclass(frozen=True)
class OneShot:
    amount: Amount

    def __call__(self, step: int) -> Amount | None:
        return self.amount if step == 0 else None


@dataclass(frozen=True)
class Every:
    """The same amount at every step."""

    amount: Amount

    def __call__(self, step: int) -> Amount | None:
        return self.amount


@dataclass(frozen=True)
class AmountSequence:
    amounts: tuple[Amount, ...]

    def __call__(self, step: int) -> Amount | None:
        return self.amounts[step] if step < len(self.amounts) else None


def one_shot(amount: float | int) -> Schedule:
    """Prune ``amount`` once (fraction of the remaining weights, or a count)."""
    return OneShot(as_amount(amount))


def relative(p: float) -> Schedule:
    """Prune the fraction ``p`` of the remaining weights at every step."""
    if not 0.0 < p <= 1.0:
        raise UsageError(f"relative pruning needs 0 < p <= 1, got {p}")
    return Every(Fraction(float(p)))


def fixed_size(n: int) -> Schedule:
    """Prune ``n`` weights at every step (the last step prunes what is left)."""
    if int(n) < 1:
        raise UsageError(f"fixed-size pruning needs n >= 1, got {n}")
    return Every(Count(int(n)))


def bucket(size: float) -> Schedule:
    """Prune lowest-saliency weights until their summed saliency fills ``size``, every step."""
    if not size > 0:
        raise UsageError(f"bucket size must be > 0, got {size}")
    return Every(Bucket(float(size)))


def percentages(ps: Sequence[float]) -> Schedule:
    """One step per fraction of the original weights (e.g. 0.1, 0.2, … 1.0)."""
    values = tuple(Fraction(float(p)) for p in ps)
    for v in values:
        as_amount(v)
    return AmountSequence(values)


SCHEDULES: dict[str, Callable[..., Schedule]] = {
    "one_shot": one_shot,
    "relative": relative,
    "fixed_size": fixed_size,
    "bucket": bucket,
}


def make_schedule(name: str, value: float) -> Schedule:
    """Build a schedule by name: ``one_shot``/``relative`` take a fraction, ``fixed_size`` a count."""
    make = lookup(SCHEDULES, name, "schedule")
    return make(int(value)) if make is fixed_size else make(value)


@dataclass(frozen=True)
class StopCriteria:
    """When an iterative pruning run stops (any satisfied criterion stops it).

    ``target_zero_fraction``: stop once this fraction of the scoped weights is pruned (the
    last step is clipped so it is hit exactly); ``min_weights``: never go below this many
    remaining weights (clipped likewise); ``max_accuracy_drop``: stop after the step whose
    accuracy (after retraining, when enabled) falls more than this below the unpruned
    accuracy; ``max_steps``: at most this many steps.
    """

    target_zero_fraction: float | None = None
    min_weights: int | None = None
    max_accuracy_drop: float | None = None
    max_steps: int | None = 100

    def max_prunable(self, remaining: int, total: int) -> int:
        """How many more weights may be pruned before a size criterion is met."""
        limit = remaining
        if self.target_zero_fraction is not None:
            keep = total - int(round(self.target_zero_fraction * total))
            limit = min(limit, remaining - keep)
        if self.min_weights is not None:
            limit = min(limit, remaining - self.min_weights)
        return max(limit, 0)
