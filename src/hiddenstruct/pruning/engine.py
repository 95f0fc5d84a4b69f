"""The pruning engine: one step (:func:`prune`) and the iterative loop (:func:`iterative_prune`).

A step = scope → criterion scores → selection → masks applied. The loop asks a schedule how
much to prune at step k, stops by :class:`StopCriteria`, and optionally retrains and/or
rewinds after each step.

Example::

    >>> report = prune(model, "magnitude", "class_blinded", 0.5)
    >>> report.zero_fraction_after
    0.5
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn.masking import apply_mask
from hiddenstruct.pruning.criteria import Criterion, make_criterion
from hiddenstruct.pruning.criteria import criterion_options as accepted
from hiddenstruct.pruning.retrain import RetrainPolicy, retrain, rewind
from hiddenstruct.pruning.schedules import Schedule, StopCriteria
from hiddenstruct.pruning.scope import ScopeSpec, current_masks, ensure_masks, resolve_scope
from hiddenstruct.pruning.selection import (
    Amount,
    Bucket,
    Count,
    Fraction,
    Selector,
    as_amount,
    count_for,
    get_selection,
)


@dataclass(frozen=True)
class TensorCounts:
    """Weights of one scoped tensor: total entries, unpruned before and after the step."""

    name: str
    total: int
    before: int
    after: int


@dataclass(frozen=True)
class PruneReport:
    """What one pruning step did, per tensor, and how the scores were computed."""

    criterion: str
    selection: str
    amount: str
    tensors: tuple[TensorCounts, ...]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(t.total for t in self.tensors)

    @property
    def before(self) -> int:
        return sum(t.before for t in self.tensors)

    @property
    def after(self) -> int:
        return sum(t.after for t in self.tensors)

    @property
    def pruned(self) -> int:
        return self.before - self.after

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


def _name_of(thing: Any) -> str:
    return (
        thing
        if isinstance(thing, str)
        else getattr(thing, "name", getattr(thing, "__name__", repr(thing)))
    )


def prune(
    model: nn.Module,
    criterion: str | Criterion = "magnitude",
    selection: str | Selector = "class_blinded",
    amount: Any = 0.5,
    scope: ScopeSpec = None,
    data: Iterable | None = None,
    seed: int | None = None,
    max_count: int | None = None,
    criterion_options: dict[str, Any] | None = None,
) -> PruneReport:
    """Prune ``model`` once, in place; returns a :class:`PruneReport`.

    ``amount``: fraction of the remaining scoped weights (float), a count (int) or a
    :class:`~hiddenstruct.pruning.selection.Bucket`. ``scope``: see
    :func:`~hiddenstruct.pruning.scope.resolve_scope`; unmasked tensors in scope get an
    all-ones mask first. ``data``: loader for data-dependent criteria (OBD). ``seed``: for
    the random criterion. ``max_count``: never prune more than this many weights.
    """
    options = dict(criterion_options or {})
    if seed is not None and isinstance(criterion, str) and "seed" in accepted(criterion):
        options.setdefault("seed", seed)  # only criteria with randomness take the seed
    crit = make_criterion(criterion, **options)
    select = get_selection(selection)
    amount = as_amount(amount)
    targets = resolve_scope(model, scope)
    ensure_masks(targets)
    before = current_masks(targets)
    saliency = crit.scores(model, targets, data)
    after = select(saliency.scores, before, amount, max_count=max_count)
    for name, target in targets.items():
        if torch.any(after[name] & ~before[name]):
            raise RuntimeError(f"selection {_name_of(selection)!r} revived weights of {name}")
        apply_mask(target.module, target.tensor_name, after[name])
    details = dict(saliency.details)
    compensate = getattr(crit, "compensate", None)
    if compensate is not None:
        details.update(compensate(model, targets, before, after, saliency))
    counts = tuple(
        TensorCounts(name, before[name].numel(), int(before[name].sum()), int(after[name].sum()))
        for name in targets
    )
    return PruneReport(_name_of(crit), _name_of(selection), repr(amount), counts, details)


#: Percentile thresholds of the recurrent protocol → the selection that implements them.
THRESHOLDS: dict[str, str] = {
    "global": "class_blinded",  # authors' code (rnn/sparse.py): one percentile over the scope
    "per-tensor": "class_uniform",  # paper text: "the p-th percentile ... in that layer"
}


def percentile_prune(
    model: nn.Module,
    p: float,
    scope: ScopeSpec = None,
    per_tensor: bool | None = None,
    *,
    threshold: str = "per-tensor",
) -> PruneReport:
    """The paper's recurrent protocol: remove the fraction ``p`` of smallest |w|.

    ``threshold="per-tensor"`` (the paper's text, §4.2: "the p-th percentile of all the
    absolute weights in that layer") thresholds each tensor at its own percentile;
    ``"global"`` (the authors' published code, ``rnn/sparse.py``) uses one percentile of
    |w| over every tensor in scope. Ties are broken by position, so exactly ``round(p·n)``
    weights go (per tensor, or over the scope). ``per_tensor`` is the 0.1.0 spelling
    (True = per-tensor, False = global) and wins when given.
    """
    if per_tensor is not None:
        threshold = "per-tensor" if per_tensor else "global"
    if threshold not in THRESHOLDS:
        raise UsageError(f"unknown threshold {threshold!r}; valid: {', '.join(THRESHOLDS)}")
    return prune(model, "magnitude", THRESHOLDS[threshold], float(p), scope=scope)


@dataclass(frozen=True)
class PruneStep:
    """One step of an iterative run: counts, accuracy right after pruning and per retrain epoch."""

    step: int
    pruned: int
    remaining: int
    total: int
    accuracy_pruned: float | None
    accuracy_retrained: tuple[float, ...]
    details: dict[str, Any]

    @property
    def zero_fraction(self) -> float:
        return 1.0 - self.remaining / self.total if self.total else 0.0

    @property
    def accuracy(self) -> float | None:
        """Final accuracy of the step (after retraining when there was any)."""
        return self.accuracy_retrained[-1] if self.accuracy_retrained else self.accuracy_pruned


@dataclass(frozen=True)
class IterativeResult:
    base_accuracy: float | None
    steps: tuple[PruneStep, ...]
    stop_reason: str


def stretch_to_mark(amount: Amount, remaining: int, gap: int, tensors: int = 1) -> Amount:
    """The step's amount, stretched to prune all ``gap`` weights up to the next checkpoint
    when the step after it would otherwise be cut to less than half a step.

    Without this a relative schedule lands e.g. on 79.5 % and then takes a 0.5 % step to
    hit 80 %; with retraining after each step that extra step draws a sawtooth. Fractions
    are stretched a little past ``gap`` (one weight per tensor, for per-tensor rounding) and
    the caller's ``max_count`` cuts them back to exactly ``gap``. Buckets are left alone.
    """
    if isinstance(amount, Bucket) or gap <= 0:
        return amount
    count = count_for(amount, remaining)
    if count >= gap:
        return amount  # the step reaches the mark; max_count clips it there
    following = count if isinstance(amount, Count) else count_for(amount, remaining - count)
    if 2 * (gap - count) >= following:
        return amount
    if isinstance(amount, Count):
        return Count(gap)
    return Fraction(min(1.0, (gap + tensors) / remaining))


def iterative_prune(
    model: nn.Module,
    criterion: str | Criterion,
    selection: str | Selector,
    schedule: Schedule,
    *,
    scope: ScopeSpec = None,
    data: Iterable | None = None,
    seed: int | None = None,
    stop: StopCriteria | None = None,
    evaluate: Callable[[nn.Module], float] | None = None,
    retrain_policy: RetrainPolicy | None = None,
    train_epoch: Callable[[nn.Module], object] | None = None,
    rewind_to: dict[str, torch.Tensor] | None = None,
    criterion_options: dict[str, Any] | None = None,
    on_step: Callable[[PruneStep], None] | None = None,
    checkpoints: Sequence[float] = (),
) -> IterativeResult:
    """Prune step by step following ``schedule`` until a stop criterion holds.

    ``evaluate(model) -> accuracy`` is measured before pruning and after each step;
    ``retrain_policy`` + ``train_epoch(model)`` retrain after each step (masks stay);
    ``rewind_to`` (from :func:`~hiddenstruct.pruning.retrain.snapshot_weights`) resets the
    surviving weights to their initial values after each step (lottery ticket).
    ``checkpoints``: zero fractions the run must land on exactly (a step that would jump over
    one is clipped there), so accuracies at e.g. 50/80/90 % removed are measured, not interpolated.
    """
    retraining = retrain_policy is not None and retrain_policy.mode != "none"
    if retraining and (train_epoch is None or evaluate is None):
        raise ValueError("retraining needs both train_epoch and evaluate callables")
    stop = stop or StopCriteria()
    targets = resolve_scope(model, scope)
    ensure_masks(targets)
    total = sum(t.weight().numel() for t in targets.values())
    marks = sorted({int(round(c * total)) for c in checkpoints})
    base = float(evaluate(model)) if evaluate is not None else None
    steps: list[PruneStep] = []
    reason = "schedule"
    step = 0
    while True:
        if stop.max_steps is not None and step >= stop.max_steps:
            reason = "max_steps"
            break
        amount = schedule(step)
        if amount is None:
            break
        remaining = sum(int(m.sum()) for m in current_masks(targets).values())
        if isinstance(amount, Fraction) and amount.value > 0 and count_for(amount, remaining) == 0:
            amount = Count(1)  # a relative step that rounds to nothing still makes progress
        limit = stop.max_prunable(remaining, total)
        ahead = [m - (total - remaining) for m in marks if m > total - remaining]
        if ahead:
            limit = min(limit, min(ahead))
            amount = stretch_to_mark(amount, remaining, min(ahead), len(targets))
        if limit == 0:
            reason = "size_reached" if remaining else "empty"
            break
        report = prune(
            model,
            criterion,
            selection,
            amount,
            scope=list(targets),
            data=data,
            seed=seed,
            max_count=limit,
            criterion_options=criterion_options,
        )
        if report.pruned == 0:
            reason = "nothing_pruned"
            break
        if rewind_to is not None:
            rewind(model, rewind_to)
        acc = float(evaluate(model)) if evaluate is not None else None
        recovered = (
            retrain(
                model, retrain_policy, train_epoch=train_epoch, evaluate=evaluate, reference=base
            )
            if retraining
            else []
        )
        record = PruneStep(
            step, report.pruned, report.after, total, acc, tuple(recovered), report.details
        )
        steps.append(record)
        if on_step is not None:
            on_step(record)
        step += 1
        final = record.accuracy
        if stop.max_accuracy_drop is not None and final is not None and base is not None:
            if final < base - stop.max_accuracy_drop:
                reason = "accuracy_drop"
                break
    return IterativeResult(base, tuple(steps), reason)
