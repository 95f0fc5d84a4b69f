"""Diagonal of the training-loss Hessian for Optimal Brain Damage.

The loss is the mean cross-entropy over every sample of ``data`` (a loader of
``(inputs..., target)`` batches; ``model(*inputs)`` gives logits ``[B, C]``).

``exact`` — closed form, no double backward. For a weight W_ij of a ``Linear`` layer with
input a and pre-activation z = W a + b, logits depend on W_ij only through z_i, and when
every non-linearity after it is piecewise linear (ReLU, leaky ReLU, identity) the second
derivative of the logits w.r.t. W_ij vanishes almost everywhere. Hence

    ∂²L/∂W_ij² = (1/N) Σ_n a_nj² · b_niᵀ H_n b_ni,   b_ni = ∂logits_n/∂z_ni,
    H_n = diag(p_n) − p_n p_nᵀ  (softmax cross-entropy Hessian w.r.t. the logits).

With H_n = S_n S_nᵀ, S_n = diag(√p_n) − p_n √p_nᵀ, the inner term is Σ_c (∂(s_nc·logits_n)/∂z_ni)²:
C backward passes per batch (one per class column of S, all layers at once) and one matrix
product per layer give the exact diagonal for every weight. Supported: models whose leaf
modules are Linear / ReLU / LeakyReLU / Identity / Flatten / Dropout (evaluated in eval
mode), each targeted Linear called once per forward on 2-D inputs. Anything else raises
:class:`UnsupportedModelError` (``auto`` then falls back to Hutchinson).

``hutchinson`` — unbiased estimator diag(H) ≈ mean_z z ⊙ Hz with Rademacher z (seeded),
``probes`` Hessian-vector products per batch; works for any differentiable model (RNNs
included; cuDNN is disabled during the double backward).

``fisher`` — empirical Fisher (1/N) Σ_n g_n² from per-sample gradients of Linear layers
(closed form (δ²)ᵀ(a²)); cheap but biased.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

import torch
import torch.nn.functional as F
from torch import nn

from hiddenstruct.errors import UnsupportedModelError, UsageError, check_choice
from hiddenstruct.graphs.fx_trace import module_kind
from hiddenstruct.nn.masking import Mask
from hiddenstruct.sparsity.tensors import PrunableTensor

OBD_METHODS = ("auto", "exact", "hutchinson", "fisher")

_PIECEWISE_LINEAR = (nn.Linear, nn.ReLU, nn.LeakyReLU, nn.Identity, nn.Flatten, nn.Dropout)
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
_LINEAR_ACTIVATIONS = {"relu", "leaky_relu", "identity", "linear", "none"}
EXACT = "exact OBD diagonal"


def check_linear(targets: dict[str, PrunableTensor], method: str) -> None:
    """Raise :class:`UnsupportedModelError` unless every target is an ``nn.Linear`` weight,
    naming the first that is not; ``method``: what needs them (``"lobs"``)."""
    for name, t in targets.items():
        if not isinstance(t.module, nn.Linear) or t.tensor_name != "weight":
            raise UnsupportedModelError(
                f"{method} supports nn.Linear weights only; {name} is the {t.tensor_name} of a "
                f"{module_kind(t.module)} (narrow the scope to Linear layers)"
            )


def exact_support_problem(model: nn.Module, targets: dict[str, PrunableTensor]) -> str | None:
    """Why the exact diagonal cannot be computed for ``model`` (``None`` when it can)."""
    try:
        check_linear(targets, EXACT)
    except UnsupportedModelError as error:
        return str(error)
    for mname, module in model.named_modules():
        if isinstance(module, (Mask, *_CONTAINERS)) or ".parametrizations" in f".{mname}":
            continue
        if list(module.children()):
            continue
        if not isinstance(module, _PIECEWISE_LINEAR):
            return f"module {mname or '<root>'} ({type(module).__name__}) is not piecewise linear"
    for mname, module in model.named_modules():
        activation = getattr(module, "activation", None)
        if isinstance(activation, str) and activation.lower() not in _LINEAR_ACTIVATIONS:
            return f"module {mname or '<root>'} uses activation {activation!r}, which is not piecewise linear"
        if getattr(module, "layer_norm", False) is True:
            return f"module {mname or '<root>'} uses layer normalisation"
    return None


def _device_of(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _batches(data: Iterable, max_batches: int | None, device: torch.device):
    for batch in islice(data, max_batches):
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise UsageError("pruning data batches must be tuples (inputs..., target)")
        yield [b.to(device) for b in batch[:-1]], batch[-1].to(device)


def _count_samples(data: Iterable, max_batches: int | None) -> int:
    return sum(int(batch[-1].shape[0]) for batch in islice(data, max_batches))


def _capture_linear(targets: dict[str, PrunableTensor]):
    """Forward hooks that record (input, output) of each targeted Linear once per forward."""
    captured: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    handles = []
    for name, t in targets.items():

        def hook(module, inputs, output, name=name):
            if name in captured:
                raise UnsupportedModelError(
                    f"{name} is used more than once per forward (shared weights)"
                )
            if inputs[0].dim() != 2:
                raise UnsupportedModelError(
                    f"{name} receives {inputs[0].dim()}-D inputs; closed forms need [B, features]"
                )
            captured[name] = (inputs[0].detach(), output)

        handles.append(t.module.register_forward_hook(hook))
    return captured, handles


def _linear_diagonal(model, targets, data, max_batches, batch_terms) -> dict[str, torch.Tensor]:
    """Mean over the samples of ``batch_terms(model, inputs, target, captured, names)`` (a
    dict of per-tensor sums for one batch), with each Linear target's input and output
    captured (``names``: the targets, in scope order)."""
    device = _device_of(model)
    total = _count_samples(data, max_batches)
    diag = {n: torch.zeros_like(t.masked_weight, dtype=torch.float64) for n, t in targets.items()}
    captured, handles = _capture_linear(targets)
    try:
        for inputs, target in _batches(data, max_batches, device):
            captured.clear()
            for n, term in batch_terms(model, inputs, target, captured, list(targets)).items():
                diag[n] += term
    finally:
        for h in handles:
            h.remove()
    return {n: d / max(total, 1) for n, d in diag.items()}


def _exact_terms(model, inputs, target, captured, names) -> dict[str, torch.Tensor]:
    """One batch of the exact Gauss–Newton diagonal: one backward pass per class."""
    logits = model(*inputs)
    p = torch.softmax(logits.detach(), dim=1)
    sqrt_p = p.sqrt()
    outputs = [captured[n][1] for n in names]
    squared = [torch.zeros_like(o) for o in outputs]
    for c in range(logits.shape[1]):
        column = -p * sqrt_p[:, c : c + 1]
        column[:, c] += sqrt_p[:, c]
        grads = torch.autograd.grad(logits, outputs, grad_outputs=column, retain_graph=True)
        for acc, g in zip(squared, grads, strict=True):
            acc.add_(g.detach() ** 2)
    return {
        n: acc.double().T @ (captured[n][0].double() ** 2)
        for n, acc in zip(names, squared, strict=True)
    }


def _fisher_terms(model, inputs, target, captured, names) -> dict[str, torch.Tensor]:
    """One batch of the empirical Fisher diagonal: squared per-sample output gradients."""
    loss = F.cross_entropy(model(*inputs), target, reduction="sum")
    grads = torch.autograd.grad(loss, [captured[n][1] for n in names])
    return {
        n: (delta.double() ** 2).T @ (captured[n][0].double() ** 2)
        for n, delta in zip(names, grads, strict=True)
    }


def _exact(model, targets, data, max_batches) -> dict[str, torch.Tensor]:
    problem = exact_support_problem(model, targets)
    if problem:
        raise UnsupportedModelError(f"{EXACT} unsupported: {problem}")
    return _linear_diagonal(model, targets, data, max_batches, _exact_terms)


def _fisher(model, targets, data, max_batches) -> dict[str, torch.Tensor]:
    check_linear(targets, "fisher OBD diagonal")
    return _linear_diagonal(model, targets, data, max_batches, _fisher_terms)


def _hutchinson(
    model, targets, data, max_batches, probes: int, seed: int
) -> dict[str, torch.Tensor]:
    if probes < 1:
        raise UsageError(f"Hutchinson needs at least one probe, got {probes}")
    device = _device_of(model)
    total = _count_samples(data, max_batches)
    names = list(targets)
    params = [targets[n].raw_weight for n in names]
    generator = torch.Generator().manual_seed(int(seed))
    diag = {
        n: torch.zeros(p.shape, dtype=torch.float64) for n, p in zip(names, params, strict=True)
    }
    with torch.backends.cudnn.flags(enabled=False):
        for inputs, target in _batches(data, max_batches, device):
            loss = F.cross_entropy(model(*inputs), target, reduction="sum") / max(total, 1)
            grads = torch.autograd.grad(loss, params, create_graph=True)
            for _ in range(probes):
                zs = [
                    (torch.randint(0, 2, p.shape, generator=generator) * 2 - 1).to(
                        p.device, p.dtype
                    )
                    for p in params
                ]
                hz = torch.autograd.grad(grads, params, grad_outputs=zs, retain_graph=True)
                for n, z, h in zip(names, zs, hz, strict=True):
                    diag[n] += (z * h).detach().double().cpu() / probes
    masks = {n: targets[n].current_mask.double().cpu() for n in names}
    return {n: diag[n] * masks[n] for n in names}


def hessian_diagonal(
    model: nn.Module,
    targets: dict[str, PrunableTensor],
    data: Iterable,
    method: str = "auto",
    probes: int = 8,
    seed: int = 0,
    max_batches: int | None = None,
) -> tuple[dict[str, torch.Tensor], str]:
    """Diagonal of the mean cross-entropy Hessian w.r.t. each target; returns (diag, method used)."""
    check_choice(method, OBD_METHODS, "OBD method")
    was_training = model.training
    model.eval()
    try:
        if method == "auto":
            try:
                return _finish(_exact(model, targets, data, max_batches)), "exact"
            except UnsupportedModelError:
                method = "hutchinson"
        if method == "exact":
            diag = _exact(model, targets, data, max_batches)
        elif method == "fisher":
            diag = _fisher(model, targets, data, max_batches)
        else:
            diag = _hutchinson(model, targets, data, max_batches, probes, seed)
    finally:
        model.train(was_training)
    return _finish(diag), method


def _finish(diag: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {n: d.cpu() for n, d in diag.items()}
