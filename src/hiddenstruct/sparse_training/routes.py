"""One model made sparse by one route, at one final density: the unit of a route comparison.

Routes (:data:`ROUTES`): ``pruning`` (dense training, then iterative class-blinded
magnitude pruning with retraining, :mod:`hiddenstruct.pruning`), ``static_uniform`` /
``static_erk`` (a random mask fixed before training), ``l1`` (L1 penalty + magnitude
threshold every epoch, never below the target; a final class-blinded cut to the target,
then fine-tuning), and the dynamic ``set``, ``rigl``, ``sparse_momentum`` (ERK start).
Every route ends at exactly the target density (``result.density``).

Cost: wall time and a FLOPs-proportional count (:class:`CostCounter`).

Example::

    >>> result = train_route(net, "rigl", 0.05, loader, eval_loader=val, epochs=10)
    >>> result.density, result.cost, result.trajectory[-1]["degree_mean"]
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from hiddenstruct.errors import UsageError, check_choice
from hiddenstruct.pruning import RetrainPolicy, StopCriteria, iterative_prune, prune, relative
from hiddenstruct.sparse_training.layers import init_sparse_masks, sparse_layers
from hiddenstruct.sparse_training.methods import SparseMomentum, make_method
from hiddenstruct.sparse_training.regularization import L1Penalty, MagnitudeThreshold
from hiddenstruct.sparse_training.route_names import DYNAMIC_ROUTES, ROUTES
from hiddenstruct.sparse_training.structure import StructureTracker
from hiddenstruct.training import evaluate, make_optimizer, train
from hiddenstruct.training.loop import StepContext, StepHook

__all__ = ["ROUTES", "CostCounter", "RouteOptions", "RouteResult", "train_route"]


class CostCounter(StepHook):
    """Counts optimizer steps and a FLOPs-proportional training cost.

    Per step: ``3 × batch × live`` weight multiply-accumulates (forward, input gradient,
    weight gradient on the live weights only, as a sparse kernel would), plus
    ``batch × (total − live)`` for a dense weight gradient (``dense_every_step``: sparse
    momentum) and ``batch × (live + 2 · total)`` for an extra dense pass (:meth:`add_dense_pass`:
    RigL's update steps). Biases and activations are ignored; for recurrent models the count
    is per time step (×sequence length for FLOPs, the same factor for every route).
    """

    def __init__(self, model: nn.Module, dense_every_step: bool = False) -> None:
        self.layers = sparse_layers(model)
        self.total = sum(layer.numel for layer in self.layers)
        self.dense_every_step = dense_every_step
        self.steps = 0
        self.cost = 0.0

    def after_step(self, ctx: StepContext) -> None:
        batch = int(ctx.target.shape[0])
        live = sum(layer.live for layer in self.layers)
        self.steps += 1
        self.cost += 3.0 * batch * live
        if self.dense_every_step:
            self.cost += batch * (self.total - live)

    def add_dense_pass(self, batch: int) -> None:
        live = sum(layer.live for layer in self.layers)
        self.cost += batch * (live + 2.0 * self.total)


@dataclass(frozen=True)
class RouteOptions:
    """Settings of :func:`train_route` (all routes; unused ones are ignored).

    ``optimizer``, ``lr``, ``optimizer_options``, ``clip_grad_norm``: as in
    :func:`~hiddenstruct.training.train` (one optimizer for the whole route).
    ``epochs``: training epochs of every non-pruning route, and the dense pre-training
    epochs of ``pruning``, which then prunes ``prune_fraction`` of the remaining weights
    per step with ``retrain_epochs`` epochs after each step. ``l1_strength``,
    ``l1_threshold``: the ``l1`` route's penalty and per-epoch threshold;
    ``finetune_epochs`` after its final cut. ``update_every``, ``update_fraction`` (None:
    each method's default), ``track_every``, ``include_io``: dynamic methods and structure
    records (the mask graph with input/output neurons when ``include_io``);
    ``track_topology``: the records' topology distances to the start and the previous record
    (:class:`~hiddenstruct.sparse_training.StructureTracker`).
    """

    epochs: int = 10
    optimizer: str = "adam"
    lr: float = 1e-3
    optimizer_options: dict[str, Any] = field(default_factory=dict)
    clip_grad_norm: float | None = None
    prune_fraction: float = 0.5
    retrain_epochs: int = 1
    l1_strength: float = 1e-4
    l1_threshold: float = 1e-3
    finetune_epochs: int = 1
    update_every: int = 100
    update_fraction: float | None = None
    track_every: int = 5
    include_io: bool = False
    track_topology: bool = True
    seed: int = 0


@dataclass
class RouteResult:
    """What one route produced: final density, accuracy, cost and the structure trajectory."""

    route: str
    target_density: float
    density: float
    accuracy: float
    seconds: float
    cost: float
    steps: int
    epochs: int
    trajectory: list[dict[str, Any]]
    history: list[dict[str, Any]]

    @property
    def final_structure(self) -> dict[str, Any]:
        return self.trajectory[-1]


def _check(route: str, density: float) -> None:
    check_choice(route, ROUTES, "sparsity route")
    if not 0.0 < density <= 1.0:
        raise UsageError(f"density must be in (0, 1], got {density}")


def train_route(
    model: nn.Module,
    route: str,
    density: float,
    train_loader: Iterable,
    *,
    eval_loader: Iterable,
    options: RouteOptions | None = None,
    device: torch.device | str | None = None,
) -> RouteResult:
    """Make ``model`` sparse at ``density`` by ``route`` (in place) and measure it.

    ``accuracy`` is measured on ``eval_loader`` at the end; the trajectory holds one
    :class:`~hiddenstruct.sparse_training.StructureTracker` record at the start, during
    training and at the end.
    """
    _check(route, density)
    opts = options or RouteOptions()
    layers = sparse_layers(model)
    total = sum(layer.numel for layer in layers)
    target = round(density * total)
    if route == "static_uniform":
        init_sparse_masks(model, density, "uniform", seed=opts.seed)
    elif route in ("static_erk", *DYNAMIC_ROUTES):
        init_sparse_masks(model, density, "erdos_renyi", seed=opts.seed)
    tracker = StructureTracker(
        model, every=opts.track_every, include_io=opts.include_io, topology=opts.track_topology
    )
    counter = CostCounter(model, dense_every_step=route == "sparse_momentum")
    tracker.record(step=0)
    start = time.perf_counter()
    run = _Run(model, train_loader, eval_loader, opts, counter, tracker, target, device)
    history = _RUNNERS[route](run)
    seconds = time.perf_counter() - start
    live = sum(layer.live for layer in layers)
    if live != target:
        raise RuntimeError(f"route {route} ended at {live} live weights, expected {target}")
    accuracy = evaluate(model, eval_loader, device).accuracy
    tracker.record(step=counter.steps)
    return RouteResult(
        route=route,
        target_density=density,
        density=live / total,
        accuracy=accuracy,
        seconds=seconds,
        cost=counter.cost,
        steps=counter.steps,
        epochs=len(history),
        trajectory=tracker.records,
        history=history,
    )


@dataclass
class _Run:
    """Everything a route's runner needs; :meth:`fit` trains with the run's one optimizer."""

    model: nn.Module
    loader: Iterable
    eval_loader: Iterable
    opts: RouteOptions
    counter: CostCounter
    tracker: StructureTracker
    target: int
    device: torch.device | str | None
    optimizer: torch.optim.Optimizer = field(init=False)

    def __post_init__(self) -> None:
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(
            self.opts.optimizer, params, self.opts.lr, **self.opts.optimizer_options
        )

    def fit(self, epochs: int, hooks=(), callbacks=()) -> list[dict[str, Any]]:
        """Train ``epochs`` epochs (the cost counter always runs); per-epoch metric dicts."""
        if epochs == 0:
            return []
        history = train(
            self.model,
            self.loader,
            epochs=epochs,
            optimizer=self.optimizer,
            clip_grad_norm=self.opts.clip_grad_norm,
            step_hooks=[*hooks, self.counter],
            callbacks=list(callbacks),
            progress=False,
            device=self.device,
        )
        return history.to_dicts()

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in sparse_layers(self.model)]

    @property
    def live(self) -> int:
        return sum(layer.live for layer in sparse_layers(self.model))


def _static(run: _Run) -> list[dict[str, Any]]:
    return run.fit(run.opts.epochs)


def _dynamic_route(name: str):
    def runner(run: _Run) -> list[dict[str, Any]]:
        options: dict[str, Any] = {"update_every": run.opts.update_every, "seed": run.opts.seed}
        if run.opts.update_fraction is not None:
            options["fraction"] = run.opts.update_fraction
        method = make_method(name, run.model, tracker=run.tracker, **options)
        hooks = [method]
        if name == "rigl":
            hooks.append(_DensePassCounter(method, run.counter))
        try:
            return run.fit(run.opts.epochs, hooks)
        finally:
            if isinstance(method, SparseMomentum):
                method.close()

    return runner


class _DensePassCounter(StepHook):
    """Charges RigL's extra dense forward/backward on each of its update steps."""

    def __init__(self, method, counter: CostCounter) -> None:
        self.method, self.counter, self.seen = method, counter, 0

    def after_step(self, ctx: StepContext) -> None:
        if self.method.updates > self.seen:
            self.seen = self.method.updates
            self.counter.add_dense_pass(int(ctx.target.shape[0]))


def _l1(run: _Run) -> list[dict[str, Any]]:
    opts = run.opts
    threshold = MagnitudeThreshold(
        run.model, opts.l1_threshold, tracker=run.tracker, min_live=run.target
    )
    history = run.fit(opts.epochs, [L1Penalty(run.model, opts.l1_strength)], [threshold])
    if run.live > run.target:
        prune(run.model, "magnitude", "class_blinded", run.live - run.target, scope=run.names)
        run.tracker.record(step=run.counter.steps, update=threshold.updates + 1)
    return history + run.fit(opts.finetune_epochs)


def _pruning(run: _Run) -> list[dict[str, Any]]:
    opts = run.opts
    history = run.fit(opts.epochs)
    total = sum(layer.numel for layer in sparse_layers(run.model))
    steps_needed = math.ceil(
        math.log(max(run.target, 1) / total) / math.log(1 - opts.prune_fraction)
    )
    iterative_prune(
        run.model,
        "magnitude",
        "class_blinded",
        relative(opts.prune_fraction),
        scope=run.names,
        stop=StopCriteria(target_zero_fraction=1 - run.target / total, max_steps=steps_needed + 5),
        evaluate=lambda m: evaluate(m, run.eval_loader, run.device).accuracy,
        retrain_policy=RetrainPolicy("fixed", opts.retrain_epochs),
        train_epoch=lambda m: history.extend(run.fit(1)),
        on_step=lambda step: run.tracker.record(step=run.counter.steps, update=step.step + 1),
    )
    return history


_RUNNERS = {
    "pruning": _pruning,
    "static_uniform": _static,
    "static_erk": _static,
    "l1": _l1,
    "set": _dynamic_route("set"),
    "rigl": _dynamic_route("rigl"),
    "sparse_momentum": _dynamic_route("sparse_momentum"),
}
