"""Train and evaluate classifiers on any DataLoader.

Batch convention: a batch is a tuple whose *last* element is the target and whose other
elements are the model inputs, so the model is called as ``model(*batch[:-1])`` and must
return logits ``[B, C]`` (or ``[B]`` for one-logit binary classifiers with a 0/1 target).
Sequence models are thus called ``model(padded, lengths)``.

Example::

    >>> history = train(model, loader, epochs=5, optimizer="adam", lr=1e-3)
    >>> history.final.train_accuracy
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.options import with_options
from hiddenstruct.training.divergence import DivergenceWatch
from hiddenstruct.training.optim import OptimizerSpec, make_optimizer
from hiddenstruct.training.progress import make_progress
from hiddenstruct.training.seeding import default_device

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Callback = Callable[["EpochMetrics", nn.Module], "bool | None"]
SchedulerFactory = Callable[[torch.optim.Optimizer], Any]


@dataclass(frozen=True)
class StepContext:
    """What a step hook sees at one optimizer step (``step`` counts from 1 over all epochs).

    ``total_steps`` is ``epochs * len(train_loader)`` (None when the loader has no length).
    """

    step: int
    epoch: int
    model: nn.Module
    optimizer: torch.optim.Optimizer
    inputs: list[Any]
    target: torch.Tensor
    loss_fn: LossFn
    total_steps: int | None


class StepHook:
    """Base of per-step hooks: ``before_step`` runs after ``backward`` (gradients present,
    before clipping and ``optimizer.step``), ``after_step`` after ``optimizer.step``."""

    def before_step(self, ctx: StepContext) -> None:
        """Called with gradients computed, before clipping and the optimizer step."""

    def after_step(self, ctx: StepContext) -> None:
        """Called after the optimizer step."""


@dataclass(frozen=True)
class EpochMetrics:
    """What one epoch produced; ``val_*`` are NaN without a validation loader."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    lr: float

    @property
    def monitored_accuracy(self) -> float:
        """Validation accuracy when measured, else training accuracy (used for early stopping)."""
        return self.train_accuracy if math.isnan(self.val_accuracy) else self.val_accuracy


@dataclass(frozen=True)
class TrainHistory:
    """Per-epoch metrics of one :func:`train` call and why it stopped."""

    epochs: tuple[EpochMetrics, ...]
    stop_reason: str  # "epochs", "target_accuracy" or "callback"

    @property
    def final(self) -> EpochMetrics | None:
        """Metrics of the last epoch run (None when no epoch ran)."""
        return self.epochs[-1] if self.epochs else None

    @property
    def stopped_early(self) -> bool:
        return self.stop_reason != "epochs"

    @property
    def seconds(self) -> float:
        return sum(e.seconds for e in self.epochs)

    def to_dicts(self) -> list[dict[str, float]]:
        """One plain dict per epoch (JSON-serialisable, for trial stores and DataFrames)."""
        return [asdict(e) for e in self.epochs]


@dataclass(frozen=True)
class Evaluation:
    """Mean loss and accuracy over ``n`` examples."""

    loss: float
    accuracy: float
    n: int


def _to_device(batch: Sequence[Any], device: torch.device) -> list[Any]:
    return [x.to(device, non_blocking=True) if isinstance(x, torch.Tensor) else x for x in batch]


def _count_correct(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if logits.ndim == target.ndim + 1:
        return (logits.argmax(dim=-1) == target).sum()
    return ((logits > 0).to(target.dtype) == target).sum()


def _default_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if logits.ndim == target.ndim + 1:
        return nn.functional.cross_entropy(logits, target)
    return nn.functional.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))


def _model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return default_device()


def _split(batch: Any) -> tuple[list[Any], torch.Tensor]:
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise UsageError(
            "a batch must be a tuple (inputs..., target); got "
            f"{type(batch).__name__} — wrap the dataset so it yields (x, y)"
        )
    return list(batch[:-1]), batch[-1]


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Iterable,
    device: torch.device | str | None = None,
    loss_fn: LossFn | None = None,
) -> Evaluation:
    """Mean loss and accuracy of ``model`` on ``loader`` (eval mode; training mode restored)."""
    device = torch.device(device) if device is not None else _model_device(model)
    loss_fn = loss_fn or _default_loss
    was_training = model.training
    model.to(device).eval()
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.long)
    count = 0
    try:
        for batch in loader:
            inputs, target = _split(_to_device(batch, device))
            logits = model(*inputs)
            n = target.shape[0]
            loss_sum += loss_fn(logits, target).double() * n
            correct += _count_correct(logits, target)
            count += n
    finally:
        model.train(was_training)
    if count == 0:
        return Evaluation(loss=math.nan, accuracy=math.nan, n=0)
    return Evaluation(loss=float(loss_sum) / count, accuracy=float(correct) / count, n=count)


def _current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def _step_scheduler(scheduler: Any, metrics: EpochMetrics) -> None:
    if scheduler is None:
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(metrics.train_loss if math.isnan(metrics.val_loss) else metrics.val_loss)
    else:
        scheduler.step()


@dataclass(frozen=True)
class TrainConfig:
    """The options of :func:`train` as one object (``epochs`` required; see :func:`train`).

    Example: ``train(model, loader, TrainConfig(epochs=5, lr=1e-2))``.
    """

    epochs: int
    optimizer: OptimizerSpec | torch.optim.Optimizer = "adam"
    lr: float = 1e-3
    clip_grad_norm: float | None = None
    val_loader: Iterable | None = None
    target_accuracy: float | None = None
    callbacks: Sequence[Callback] = ()
    device: torch.device | str | None = None
    progress: bool | None = None
    scheduler: SchedulerFactory | None = None
    loss_fn: LossFn | None = None
    optimizer_options: dict[str, Any] | None = None
    step_hooks: Sequence[StepHook] = ()


def train(
    model: nn.Module,
    train_loader: Iterable,
    config: TrainConfig | None = None,
    **options: Any,
) -> TrainHistory:
    """Train a classifier for up to ``epochs`` epochs and return its :class:`TrainHistory`.

    ``optimizer``: a name in :data:`~hiddenstruct.training.optim.OPTIMIZERS` (``optimizer_options``
    such as ``momentum`` go to it), a ``params -> Optimizer`` callable, or an optimizer instance.
    ``clip_grad_norm``: clip the global gradient norm to this value each step.
    ``target_accuracy``: stop once validation accuracy (training accuracy without ``val_loader``)
    reaches it. ``callbacks``: ``callback(epoch_metrics, model)`` after each epoch; returning True
    stops training. ``scheduler``: ``optimizer -> LR scheduler``, stepped once per epoch.
    ``progress``: rich progress bars; None shows them only when stderr is a terminal.
    ``step_hooks``: :class:`StepHook` objects called around every optimizer step (dynamic
    sparse training, gradient penalties; see :mod:`hiddenstruct.sparse_training`).
    All of these are the fields of ``config`` (a :class:`TrainConfig`); given as keywords
    (the 0.1.0 signature) they override the config's.
    """
    cfg = with_options(TrainConfig, config, options, "train")
    epochs, optimizer, lr, clip_grad_norm = cfg.epochs, cfg.optimizer, cfg.lr, cfg.clip_grad_norm
    val_loader, target_accuracy, callbacks = cfg.val_loader, cfg.target_accuracy, cfg.callbacks
    device, progress, scheduler, loss_fn = cfg.device, cfg.progress, cfg.scheduler, cfg.loss_fn
    optimizer_options, step_hooks = cfg.optimizer_options, cfg.step_hooks
    if epochs < 0:
        raise UsageError(f"epochs must be >= 0, got {epochs}")
    if clip_grad_norm is not None and clip_grad_norm <= 0:
        raise UsageError(f"clip_grad_norm must be > 0, got {clip_grad_norm}")
    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(optimizer, params, lr, **(optimizer_options or {}))
    sched = scheduler(opt) if scheduler is not None else None
    loss_fn = loss_fn or _default_loss
    try:
        steps: int | None = len(train_loader)  # type: ignore[arg-type]
    except TypeError:
        steps = None
    total_steps = None if steps is None else steps * epochs
    global_step = 0
    history: list[EpochMetrics] = []
    stop_reason = "epochs"
    watch = DivergenceWatch(device, _current_lr(opt))
    with make_progress(progress, epochs) as bar:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            lr_now = _current_lr(opt)
            model.train()
            bar.start_epoch(epoch, steps)
            loss_sum = torch.zeros((), device=device, dtype=torch.float64)
            correct = torch.zeros((), device=device, dtype=torch.long)
            count = 0
            for step, batch in enumerate(train_loader, start=1):
                inputs, target = _split(_to_device(batch, device))
                logits = model(*inputs)
                loss = loss_fn(logits, target)
                watch.observe(loss, epoch, step)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                global_step += 1
                ctx = None
                if step_hooks:
                    ctx = StepContext(
                        global_step, epoch, model, opt, inputs, target, loss_fn, total_steps
                    )
                    for hook in step_hooks:
                        hook.before_step(ctx)
                if clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(params, clip_grad_norm)
                opt.step()
                for hook in step_hooks:
                    hook.after_step(ctx)
                n = target.shape[0]
                with torch.no_grad():
                    loss_sum += loss.detach().double() * n
                    correct += _count_correct(logits.detach(), target)
                count += n
                if bar.enabled:
                    bar.step(float(loss_sum) / count, float(correct) / count)
            if count == 0:
                raise UsageError("the training loader yielded no batches (empty dataset?)")
            watch.check(epoch, params)
            val = evaluate(model, val_loader, device, loss_fn) if val_loader is not None else None
            metrics = EpochMetrics(
                epoch=epoch,
                train_loss=float(loss_sum) / count,
                train_accuracy=float(correct) / count,
                val_loss=val.loss if val else math.nan,
                val_accuracy=val.accuracy if val else math.nan,
                seconds=time.perf_counter() - start,
                lr=lr_now,
            )
            history.append(metrics)
            _step_scheduler(sched, metrics)
            bar.end_epoch(
                f"loss {metrics.train_loss:.4f} acc {metrics.train_accuracy:.3f}"
                + ("" if val is None else f" val {metrics.val_accuracy:.3f}")
            )
            stop = False
            for callback in callbacks:
                stop = bool(callback(metrics, model)) or stop
            if target_accuracy is not None and metrics.monitored_accuracy >= target_accuracy:
                stop_reason = "target_accuracy"
                break
            if stop:
                stop_reason = "callback"
                break
    return TrainHistory(epochs=tuple(history), stop_reason=stop_reason)
