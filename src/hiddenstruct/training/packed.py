"""Training K packed models together as if each were trained alone.

A packed model (:class:`hiddenstruct.nn.packed.PackedGraphClassifier`) returns logits
[B, K, C] for K disjoint sub-models. Training it reproduces K separate runs because:

* the loss is the *sum* of the K per-graph mean cross-entropies, and no parameter entry is
  shared, so each graph's gradient is exactly its own;
* per-graph gradient clipping: each graph's norm is computed over the entries it owns
  (``owner_maps``) and only those entries are scaled, with ``torch.nn.utils.clip_grad_norm_``'s
  rule ``coef = min(1, max_norm / (norm + 1e-6))``;
* Adam is elementwise, so one optimizer over the packed tensors equals K optimizers; entries
  owned by no graph (cross-graph blocks) are masked, get zero gradient, and Adam leaves
  them untouched (its moments stay zero, the update is 0 / (0 + eps) = 0).

The equivalence is tested in ``tests/nn/test_packed.py`` against K plain training loops.

With the default optimiser, training runs on one flat buffer (:class:`FlatParameters`):
every parameter and its gradient become views of two flat tensors for the duration of
``train_packed``, so the per-graph norms are one ``index_add_``, the clipping one multiply
and Adam one elementwise step, instead of a few small kernels per tensor (a pack has about
fifty). That step covers only the entries that can get a gradient (owned by a graph and not
masked out: an eighth of the entries of the benchmark's pack of eight), gathered into one
tensor and written back after the step. The additions happen in the same order as tensor
by tensor, so the results are the same bits (tested).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from hiddenstruct.training.divergence import DivergenceWatch
from hiddenstruct.training.loop import Evaluation
from hiddenstruct.training.optim import make_optimizer

OwnerMaps = Sequence[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class PackedEpoch:
    """One epoch of packed training: per-graph mean loss and accuracy on the training batches."""

    epoch: int
    train_loss: tuple[float, ...]
    train_accuracy: tuple[float, ...]
    seconds: float


def per_graph_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each graph: logits [B, K, C], target [B] → [K]."""
    batch, graphs, classes = logits.shape
    losses = nn.functional.cross_entropy(
        logits.reshape(batch * graphs, classes), target.repeat_interleave(graphs), reduction="none"
    )
    return losses.view(batch, graphs).mean(dim=0)


def per_graph_grad_norms(owner_maps: OwnerMaps, num_graphs: int) -> torch.Tensor:
    """L2 norm of each graph's gradient over the entries it owns → [num_graphs]."""
    squares = None
    for param, owner in owner_maps:
        if param.grad is None:
            continue
        if squares is None:
            squares = param.grad.new_zeros(num_graphs + 1)
        squares.index_add_(0, owner.reshape(-1), param.grad.detach().reshape(-1).square())
    if squares is None:
        return torch.zeros(num_graphs)
    return squares[:num_graphs].sqrt()


def clip_grad_norm_per_graph_(
    owner_maps: OwnerMaps, num_graphs: int, max_norm: float
) -> torch.Tensor:
    """Clip each graph's gradient to ``max_norm`` separately (in place); returns the norms."""
    norms = per_graph_grad_norms(owner_maps, num_graphs)
    coef = torch.clamp(max_norm / (norms + 1e-6), max=1.0)
    coef = torch.cat([coef, coef.new_ones(1)])
    for param, owner in owner_maps:
        if param.grad is not None:
            param.grad.mul_(coef[owner])
    return norms


class FlatParameters:
    """The parameters of ``owner_maps`` (and their gradients) as views of one flat buffer.

    ``param`` is a parameter over the whole buffer, with ``param.grad`` over the flat
    gradient. ``owned`` holds the flat indices of the entries some graph owns and that can
    get a gradient (``masks``, one per parameter or ``None``, zero the others), ``owner``
    that graph. The optimiser steps :attr:`trained`, those entries alone, as one tensor
    (:meth:`gather_grad`, then :meth:`scatter`): every other entry has a zero gradient, which
    an elementwise optimiser like Adam leaves untouched, and skipping them skips mostly
    zeros, on which the CPU's vector square root runs about seven times slower. Autograd
    accumulates into the existing gradient views in place, so :meth:`zero_grad` zeroes the
    one buffer. :meth:`release` gives every parameter its own storage again (so a saved
    state_dict holds only its own values).
    """

    def __init__(
        self,
        owner_maps: OwnerMaps,
        num_graphs: int,
        masks: Sequence[torch.Tensor | None] | None = None,
    ) -> None:
        self.params = [p for p, _ in owner_maps]
        first = self.params[0]
        total = sum(p.numel() for p in self.params)
        flat = torch.empty(total, dtype=first.dtype, device=first.device)
        grad = torch.zeros_like(flat)
        offset = 0
        with torch.no_grad():
            for param in self.params:
                n = param.numel()
                flat[offset : offset + n].copy_(param.detach().reshape(-1))
                param.data = flat[offset : offset + n].view_as(param)
                param.grad = grad[offset : offset + n].view_as(param)
                offset += n
        owner = torch.cat([o.reshape(-1) for _, o in owner_maps]).to(first.device)
        masks = masks if masks is not None else [None] * len(self.params)
        live = torch.cat(
            [
                torch.ones(p.numel(), dtype=torch.bool, device=first.device)
                if m is None
                else m.detach().reshape(-1).to(first.device) != 0
                for p, m in zip(self.params, masks, strict=True)
            ]
        )
        # entries owned by no graph or masked out have zero gradient: the norms, the clipping
        # and the optimiser need only the others, taken in ascending order (the same order
        # of additions as over every entry)
        self.owned = ((owner < num_graphs) & live).nonzero().reshape(-1)
        self.owner = owner[self.owned]
        self.param = nn.Parameter(flat)
        self.param.grad = grad
        self.trained = nn.Parameter(flat[self.owned])  # indexing copies

    @staticmethod
    def applies(owner_maps: OwnerMaps) -> bool:
        """One dtype and device, dense strided tensors: what a flat buffer can hold."""
        params = [p for p, _ in owner_maps]
        return bool(params) and all(
            p.layout == torch.strided
            and p.dtype == params[0].dtype
            and p.device == params[0].device
            for p in params
        )

    def zero_grad(self) -> None:
        self.param.grad.zero_()

    def in_place(self) -> bool:
        """Every gradient still a view of the flat buffer (autograd accumulated in place)."""
        base = self.param.grad.data_ptr()
        end = base + self.param.grad.numel() * self.param.grad.element_size()
        return all(p.grad is not None and base <= p.grad.data_ptr() < end for p in self.params)

    def gather_grad(self) -> None:
        """Set :attr:`trained`'s gradient from the flat gradient."""
        self.trained.grad = self.param.grad.index_select(0, self.owned)

    def clip_per_graph_(self, num_graphs: int, max_norm: float) -> torch.Tensor:
        """:func:`clip_grad_norm_per_graph_` on :attr:`trained`'s gradient (after
        :meth:`gather_grad`); returns the norms."""
        owned = self.trained.grad
        squares = owned.new_zeros(num_graphs)
        squares.index_add_(0, self.owner, owned.square())
        norms = squares.sqrt()
        coef = torch.clamp(max_norm / (norms + 1e-6), max=1.0)
        owned.mul_(coef[self.owner])
        return norms

    def scatter(self) -> None:
        """Write :attr:`trained` (after an optimiser step) back into the parameters."""
        with torch.no_grad():
            self.param.index_copy_(0, self.owned, self.trained)

    def release(self) -> None:
        self.trained.grad = None
        with torch.no_grad():
            for param in self.params:
                param.data = param.data.clone()
                param.grad = None


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def train_packed(
    model: nn.Module,
    train_loader: Iterable,
    *,
    epochs: int,
    lr: float = 1e-3,
    clip_grad_norm: float | None = 5.0,
    optimizer: Callable[..., torch.optim.Optimizer] | None = None,
    device: torch.device | None = None,
    on_epoch: Callable[[PackedEpoch], None] | None = None,
) -> list[PackedEpoch]:
    """Train a packed model (``model(*inputs) -> [B, K, C]``, ``model.owner_maps()``; an
    optional ``model.owner_masks()`` names the entries masks zero, which are then not stepped).

    ``optimizer`` is a factory ``params -> Optimizer`` (default the registry's Adam with ``lr``). Batches
    are tuples whose last element is the target. ``on_epoch`` is called after each epoch.
    """
    device = device or _device_of(model)
    model.to(device)
    num_graphs = int(model.num_graphs)
    owner_maps = model.owner_maps()
    params = [p for p, _ in owner_maps]
    masks = model.owner_masks() if hasattr(model, "owner_masks") else None
    flat = (
        FlatParameters(owner_maps, num_graphs, masks)
        if optimizer is None and FlatParameters.applies(owner_maps)
        else None
    )
    if flat is not None:
        opt = make_optimizer("adam", [flat.trained], lr)
    else:
        opt = optimizer(params) if optimizer is not None else make_optimizer("adam", params, lr)
    history: list[PackedEpoch] = []
    watch = DivergenceWatch(device, float(opt.param_groups[0]["lr"]))
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            start = time.perf_counter()
            loss_sum = torch.zeros(num_graphs, device=device)
            correct = torch.zeros(num_graphs, device=device)
            seen = 0
            for step, batch in enumerate(train_loader, start=1):
                *inputs, target = (x.to(device) for x in batch)
                logits = model(*inputs)
                losses = per_graph_loss(logits, target)
                watch.observe(losses, epoch, step)  # one diverged graph fails its whole pack
                if flat is not None:
                    flat.zero_grad()
                else:
                    opt.zero_grad(set_to_none=True)
                losses.sum().backward()
                if flat is not None:
                    if not flat.in_place():  # pragma: no cover
                        raise RuntimeError("autograd replaced a flat gradient view")
                    flat.gather_grad()
                if clip_grad_norm is not None:
                    if flat is not None:
                        flat.clip_per_graph_(num_graphs, clip_grad_norm)
                    else:
                        clip_grad_norm_per_graph_(owner_maps, num_graphs, clip_grad_norm)
                opt.step()
                if flat is not None:
                    flat.scatter()
                with torch.no_grad():
                    loss_sum += losses.detach() * target.shape[0]
                    correct += (logits.argmax(dim=-1) == target[:, None]).sum(dim=0)
                seen += target.shape[0]
            watch.check(epoch, params)
            record = PackedEpoch(
                epoch=epoch,
                train_loss=tuple((loss_sum / max(seen, 1)).tolist()),
                train_accuracy=tuple((correct / max(seen, 1)).tolist()),
                seconds=time.perf_counter() - start,
            )
            history.append(record)
            if on_epoch is not None:
                on_epoch(record)
    finally:
        if flat is not None:
            flat.release()
    return history


@torch.no_grad()
def evaluate_packed(
    model: nn.Module, loader: Iterable, device: torch.device | None = None
) -> list[Evaluation]:
    """Per-graph mean loss and accuracy of a packed model on ``loader``."""
    device = device or _device_of(model)
    model.eval()
    num_graphs = int(model.num_graphs)
    loss_sum = torch.zeros(num_graphs, device=device)
    correct = torch.zeros(num_graphs, device=device)
    seen = 0
    for batch in loader:
        *inputs, target = (x.to(device) for x in batch)
        logits = model(*inputs)
        loss_sum += per_graph_loss(logits, target) * target.shape[0]
        correct += (logits.argmax(dim=-1) == target[:, None]).sum(dim=0)
        seen += target.shape[0]
    n = max(seen, 1)
    return [
        Evaluation(loss=float(li), accuracy=float(a), n=seen)
        for li, a in zip((loss_sum / n).tolist(), (correct / n).tolist(), strict=True)
    ]
