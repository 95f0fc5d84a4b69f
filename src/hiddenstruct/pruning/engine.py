"""The pruning engine: one step (:func:`prune`) and the iterative loop (:func:`iterative_prune`).

A step = scope → criterion scores → selection → masks applied (one
:class:`~hiddenstruct.pruning.pruner.Pruner` update). The loop asks a schedule how
much to prune at step k, stops by :class:`StopCriteria`, and optionally retrains and/or
rewinds after each step.

Example::

    >>> report = prune(model, "magnitude", "class_blinded", 0.5)
    >>> report.zero_fraction_after
    0.5
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hiddenstruct.errors import lookup
from hiddenstruct.options import with_options
from hiddenstruct.pruning.criteria import Criterion
from hiddenstruct.pruning.pruner import Pruner, PruneReport
from hiddenstruct.pruning.retrain import RetrainPolicy, retrain, rewind
from hiddenstruct.pruning.schedules import Schedule, StopCriteria
from hiddenstruct.pruning.selection import (
    Amount,
    Bucket,
    Count,
    Fraction,
    Selector,
    as_amount,
    count_for,
)
from hiddenstruct.sparsity.tensors import ScopeSpec, current_masks, ensure_masks, resolve_scope


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
    """Prune ``model`` once, in place (one :class:`~hiddenstruct.pruning.Pruner` update).

    ``amount``: fraction of the remaining scoped weights (float), a count (int) or a
    :class:`~hiddenstruct.pruning.selection.Bucket`. ``scope``: see
    :func:`~hiddenstruct.sparsity.prunable_tensors`; unmasked tensors in scope get an
    all-ones mask first. ``data``: loader for data-dependent criteria (OBD). ``seed``: for
    the random criterion. ``max_count``: never prune more than this many weights.
    """
    amount = as_amount(amount)
    pruner = Pruner(
        model,
        criterion,
        selection,
        scope=scope,
        data=data,
        seed=seed,
        criterion_options=criterion_options,
        max_count=max_count,
    )
    return pruner.prune(amount)


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
    select = lookup(THRESHOLDS, threshold, "threshold")
    return prune(model, "magnitude", select, float(p), scope=scope)


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


@dataclass(frozen=True)
class IterativeConfig:
    """How :func:`iterative_prune` runs, beyond what it prunes (criterion, selection, schedule).

    ``scope``, ``data``, ``seed``, ``criterion_options``: as for :func:`prune`. ``stop``: when
    to stop besides the schedule's end. ``evaluate(model) -> accuracy``: measured before
    pruning and after each step. ``retrain_policy`` + ``train_epoch(model)``: retrain after
    each step (masks stay). ``rewind_to`` (from
    :func:`~hiddenstruct.pruning.retrain.snapshot_weights`): reset the surviving weights to
    these values after each step (lottery ticket). ``on_step(PruneStep)``: called after each
    step. ``checkpoints``: zero fractions the run must land on exactly.
    """

    scope: ScopeSpec = None
    data: Iterable | None = None
    seed: int | None = None
    stop: StopCriteria | None = None
    evaluate: Callable[[nn.Module], float] | None = None
    retrain_policy: RetrainPolicy | None = None
    train_epoch: Callable[[nn.Module], object] | None = None
    rewind_to: dict[str, torch.Tensor] | None = None
    criterion_options: dict[str, Any] | None = None
    on_step: Callable[[PruneStep], None] | None = None
    checkpoints: Sequence[float] = ()


def iterative_prune(
    model: nn.Module,
    criterion: str | Criterion,
    selection: str | Selector,
    schedule: Schedule,
    config: IterativeConfig | None = None,
    **options: Any,
) -> IterativeResult:
    """Prune step by step following ``schedule`` until a stop criterion holds.

    ``config``: an :class:`IterativeConfig`; its fields can also be given as keywords
    (``scope=…, evaluate=…, retrain_policy=…``, the 0.1.0 signature), which then override
    the config's. With ``checkpoints`` a step that would jump over a mark is clipped there,
    so accuracies at e.g. 50/80/90 % removed are measured, not interpolated.
    """
    config = with_options(IterativeConfig, config, options, "iterative_prune")
    retraining = config.retrain_policy is not None and config.retrain_policy.mode != "none"
    if retraining and (config.train_epoch is None or config.evaluate is None):
        raise ValueError("retraining needs both train_epoch and evaluate callables")
    stop = config.stop or StopCriteria()
    evaluate = config.evaluate
    targets = resolve_scope(model, config.scope)
    ensure_masks(targets)
    total = sum(t.numel for t in targets.values())
    marks = sorted({int(round(c * total)) for c in config.checkpoints})
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
            data=config.data,
            seed=config.seed,
            max_count=limit,
            criterion_options=config.criterion_options,
        )
        if report.pruned == 0:
            reason = "nothing_pruned"
            break
        if config.rewind_to is not None:
            rewind(model, config.rewind_to)
        acc = float(evaluate(model)) if evaluate is not None else None
        recovered = (
            retrain(
                model,
                config.retrain_policy,
                train_epoch=config.train_epoch,
                evaluate=evaluate,
                reference=base,
            )
            if retraining
            else []
        )
        record = PruneStep(
            step, report.pruned, report.after, total, acc, tuple(recovered), report.details
        )
        steps.append(record)
        if config.on_step is not None:
            config.on_step(record)
        step += 1
        final = record.accuracy
        if stop.max_accuracy_drop is not None and final is not None and base is not None:
            if final < base - stop.max_accuracy_drop:
                reason = "accuracy_drop"
                break
    return IterativeResult(base, tuple(steps), reason)
