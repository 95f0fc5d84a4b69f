"""Layer-wise Optimal Brain Surgeon (Dong, Chen & Pan, NeurIPS 2017; deepstruct's ``pruning``).

Each targeted ``nn.Linear`` is pruned against its own *layer-wise* error: with x̃ = [x, 1]
the layer's input on a calibration batch (the constant 1 carries the bias) and w̃ = [w, b]
one output row, removing weights changes that row's output by x̃ᵀ(w̃ − w̃'), so

    E(w̃') = (1/N) Σ_n (x̃_nᵀ(w̃ − w̃'))² = (w̃ − w̃')ᵀ H (w̃ − w̃'),   H = (1/N) Σ_n x̃_n x̃_nᵀ.

H is the same for every row of the layer (it depends only on the inputs), so one d×d
matrix and one inverse serve the whole layer. With H⁻¹ = (H + λI)⁻¹ (see *damping*):

* saliency of w_q (the OBS error of removing it alone): s_q = w_q² / (2 [H⁻¹]_qq);
* the OBS update of the remaining weights of the same row: δw̃ = −(w_q / [H⁻¹]_qq) H⁻¹ e_q
  (:func:`obs_single`; exact: it is the minimiser of E with w'_q = 0).

*Many weights per row.* The engine's selector picks the set S of weights a row loses (by the
saliencies above, computed once per step). The row's new weights are then the exact
minimiser of E under w'_S = 0 for *all* of S at once — previously pruned weights included —
(:func:`obs_joint`): with R the rest (bias included),

    |S| ≤ |R|:  w̃' = w̃ − H⁻¹[:, S] (H⁻¹[S, S])⁻¹ w̃_S          O(|S|³ + d·|S|)
    |S| > |R|:  w̃'_R = (H_RR)⁻¹ H_R,: w̃,  w̃'_S = 0              O(|R|³ + d·|R|)

so a row costs O(min(|S|, |R|)³ + d·min(|S|, |R|)) and a layer with r rows at most
O(r·(d/2)³), plus O(N·d² + d³) for H and its inverse. Removing the same weights one at a
time with the OBS update and a downdate of H⁻¹ after each removal
(H⁻¹ ← H⁻¹ − H⁻¹e_q e_qᵀH⁻¹ / [H⁻¹]_qq, :func:`obs_sequential`, O(|S|·d²) per row) ends in
the same weights (tests check both against a least-squares solve); ``update="sequential"``
runs that textbook loop instead. deepstruct's ``edge_cut`` applies the one-weight update in
saliency order with the *un-downdated* H⁻¹ and re-applies the mask after each step (later
steps move earlier-removed weights off zero), not the optimum for more than one weight per
row; we keep the exact solution.

*Inputs.* H comes from the current model's layer inputs on ``data`` (a loader of
``(inputs..., target)`` batches, like OBD; targets are ignored), in one forward pass per
batch, before anything is pruned — as in the paper, every layer is fitted to the
un-pruned network's inputs of this step.

*Damping* (our choice): λ = ``damping`` · mean(diag H), default 0.01 — the relative form
and value GPTQ's published code uses (``percdamp=.01``); on MNIST LeNet-300-100 with 1000
calibration images it was the best of 10⁻¹…10⁻⁶ (docs/pruning.md). H is singular when the
batch has fewer samples than inputs or an input is constant (MNIST's border pixels are
always 0); deepstruct starts its recursive inverse at 10⁶·I, i.e. λ = 10⁻⁶ absolute, which
depends on the input scale. ``damping=0`` gives the undamped optimum and a one-line error
when H is singular.

*Scope.* Only weights of ``nn.Linear`` layers (masked or not, any number of leading batch
dimensions). Anything else raises :class:`~hiddenstruct.pruning.obd.UnsupportedModelError`.

Example::

    >>> prune(model, "lobs", "class_uniform", 0.9, data=calibration_loader)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hiddenstruct.errors import UsageError, check_choice
from hiddenstruct.graphs.fx_trace import evaluating
from hiddenstruct.pruning.obd import _batches, _device_of, check_linear
from hiddenstruct.pruning.saliency import Saliency
from hiddenstruct.sparsity.tensors import PrunableTensor

LOBS_UPDATES = ("joint", "sequential")


@dataclass(frozen=True)
class LayerHessian:
    """One layer's H (damped), its inverse, the sample count and whether a bias column is in."""

    hessian: torch.Tensor
    inverse: torch.Tensor
    samples: int
    bias: bool


def input_hessians(
    model: nn.Module,
    targets: dict[str, PrunableTensor],
    data: Iterable,
    *,
    bias: bool = True,
    max_batches: int | None = None,
) -> dict[str, tuple[torch.Tensor, int]]:
    """``{name: (H, N)}``: H = (1/N) Σ x̃ x̃ᵀ (float64) of each target's inputs over ``data``.

    x̃ is the input row with a trailing 1 when ``bias`` and the layer has a bias. A layer
    called several times per forward (or on ``[B, T, F]`` inputs) contributes every row.
    """
    check_linear(targets, "lobs")
    device = _device_of(model)
    sums: dict[str, torch.Tensor] = {}
    counts = dict.fromkeys(targets, 0)
    handles = []
    for name, t in targets.items():
        with_bias = bias and t.module.bias is not None
        size = t.module.in_features + int(with_bias)
        sums[name] = torch.zeros(size, size, dtype=torch.float64, device=device)

        def hook(module, inputs, name=name, with_bias=with_bias):
            x = inputs[0].detach().reshape(-1, module.in_features).double()
            if with_bias:
                x = torch.cat([x, x.new_ones(x.shape[0], 1)], dim=1)
            sums[name].addmm_(x.T, x)
            counts[name] += x.shape[0]

        handles.append(t.module.register_forward_pre_hook(hook))
    try:
        with evaluating(model):  # every module's own mode restored afterwards
            for inputs, _ in _batches(data, max_batches, device):
                model(*inputs)
    finally:
        for h in handles:
            h.remove()
    missing = [n for n, c in counts.items() if c == 0]
    if missing:
        raise UsageError(
            f"lobs saw no input for {', '.join(missing)}: give data batches that reach those layers"
        )
    return {n: (sums[n] / counts[n], counts[n]) for n in targets}


def damp(hessian: torch.Tensor, damping: float) -> torch.Tensor:
    """H + λI with λ = ``damping`` · mean(diag H) (· 1 when the diagonal is all zero)."""
    if not damping >= 0:
        raise UsageError(f"lobs damping must be >= 0, got {damping}")
    scale = float(hessian.diagonal().mean())
    lam = damping * (scale if scale > 0 else 1.0)
    return hessian + lam * torch.eye(hessian.shape[0], dtype=hessian.dtype, device=hessian.device)


def invert(hessian: torch.Tensor, name: str = "layer") -> torch.Tensor:
    """Inverse of a symmetric positive definite H (Cholesky); a one-line error when singular."""
    factor, info = torch.linalg.cholesky_ex(hessian)
    if int(info) != 0:
        raise UsageError(
            f"the input Hessian of {name} is singular (constant inputs or fewer samples than "
            "inputs); use a damping > 0 or more calibration samples"
        )
    return torch.cholesky_inverse(factor)


def obs_single(w: torch.Tensor, hinv: torch.Tensor, q: int) -> torch.Tensor:
    """Row ``w`` after removing entry ``q`` with the OBS update δw = −(w_q/[H⁻¹]_qq) H⁻¹ e_q."""
    out = w - (w[q] / hinv[q, q]) * hinv[:, q]
    out[q] = 0.0
    return out


def obs_joint(
    w: torch.Tensor, hessian: torch.Tensor, hinv: torch.Tensor, removed: torch.Tensor
) -> torch.Tensor:
    """Row ``w`` after removing every entry of the bool vector ``removed`` at once.

    The exact minimiser of (w − w')ᵀ H (w − w') with w'_S = 0 (see the module docstring for
    the two equivalent forms; the cheaper one is used).
    """
    s = torch.nonzero(removed).reshape(-1)
    r = torch.nonzero(~removed).reshape(-1)
    out = torch.zeros_like(w)
    if s.numel() == 0:
        return w.clone()
    if r.numel() == 0:
        return out
    if s.numel() <= r.numel():
        out = w - hinv[:, s] @ torch.linalg.solve(hinv[s][:, s], w[s])
        out[s] = 0.0
        return out
    h_rr = hessian[r][:, r]
    out[r] = torch.linalg.solve(h_rr, hessian[r] @ w)
    return out


def obs_sequential(w: torch.Tensor, hinv: torch.Tensor, order: Iterable[int]) -> torch.Tensor:
    """Row ``w`` after removing the entries in ``order`` one at a time: OBS update, then the
    downdate H⁻¹ ← H⁻¹ − H⁻¹e_q e_qᵀH⁻¹ / [H⁻¹]_qq (the inverse of H with q's row and column
    struck out, padded with zeros). O(len(order)·d²)."""
    w, hinv = w.clone(), hinv.clone()
    for q in order:
        q = int(q)
        pivot = hinv[q, q]
        w = w - (w[q] / pivot) * hinv[:, q]
        w[q] = 0.0
        hinv = hinv - torch.outer(hinv[:, q], hinv[q, :]) / pivot
    return w


def layer_error(w: torch.Tensor, new: torch.Tensor, hessian: torch.Tensor) -> float:
    """(w − w')ᵀ H (w − w') summed over rows (w: [rows, d]): the mean squared output change."""
    delta = (w - new).double()
    return float(torch.einsum("rd,de,re->", delta, hessian, delta))


@dataclass(frozen=True)
class LOBSCriterion:
    """Layer-wise OBS: s_q = w_q² / (2 [H⁻¹]_qq) from each Linear layer's inputs over ``data``;
    after the selection, the remaining weights of every touched row (and its bias, with
    ``bias``) are set to the layer-wise least-squares optimum (:mod:`hiddenstruct.pruning.lobs`).

    ``damping``: λ = damping · mean(diag H); ``update``: ``"joint"`` (closed form, default) or
    ``"sequential"`` (one weight at a time with H⁻¹ downdates; same result, slower);
    ``max_batches``: use only the first batches of ``data``.
    """

    damping: float = 0.01
    bias: bool = True
    update: str = "joint"
    max_batches: int | None = None
    name: str = "lobs"

    def scores(self, model, targets, data=None):
        if data is None:
            raise UsageError(
                "the lobs criterion needs data (a loader of (inputs..., target) batches)"
            )
        check_choice(self.update, LOBS_UPDATES, "lobs update")
        raw = input_hessians(model, targets, data, bias=self.bias, max_batches=self.max_batches)
        layers, out = {}, {}
        for name, (hessian, samples) in raw.items():
            damped = damp(hessian, self.damping)
            hinv = invert(damped, name)
            layers[name] = LayerHessian(
                damped, hinv, samples, hessian.shape[0] > _inputs(targets[name])
            )
            weight = targets[name].masked_weight.double().to(hinv.device)
            diag = hinv.diagonal()[: weight.shape[1]]
            out[name] = (weight**2 / (2.0 * diag)).cpu()
        samples = min(layer.samples for layer in layers.values())
        details = {
            "criterion": self.name,
            "damping": self.damping,
            "update": self.update,
            "samples": samples,
        }
        return Saliency(out, details, state=layers)

    def compensate(self, model, targets, before, after, saliency) -> dict[str, Any]:
        """Set the remaining weights of every row that lost weights to the OBS optimum."""
        layers: dict[str, LayerHessian] = saliency.state
        error = 0.0
        for name, t in targets.items():
            layer = layers[name]
            lost = (before[name] & ~after[name]).to(layer.hessian.device)
            rows = torch.nonzero(lost.any(dim=1)).reshape(-1)
            if rows.numel() == 0:
                continue
            weight = t.raw_weight
            # the weights before this step (the masks of ``after`` are already applied)
            w = weight.detach().double().to(layer.hessian.device) * before[name].to(
                layer.hessian.device
            )
            if layer.bias:
                w = torch.cat([w, t.module.bias.detach().double().reshape(-1, 1)], dim=1)
            kept = after[name].to(layer.hessian.device)
            new = w[rows].clone()
            for i, row in enumerate(rows.tolist()):
                removed = torch.zeros(w.shape[1], dtype=torch.bool, device=w.device)
                removed[: kept.shape[1]] = ~kept[row]
                new[i] = self._solve(
                    w[row], layer, removed, saliency.scores[name][row], before[name][row]
                )
            error += layer_error(w[rows], new, layer.hessian)
            with torch.no_grad():
                columns = kept.shape[1]
                current = weight[rows]
                alive = kept[rows]
                weight[rows] = torch.where(alive, new[:, :columns].to(weight.dtype), current)
                if layer.bias:
                    t.module.bias[rows] = new[:, columns].to(t.module.bias.dtype)
        return {"layer_error": error}

    def _solve(self, w, layer, removed, scores, alive_before) -> torch.Tensor:
        if self.update == "joint":
            return obs_joint(w, layer.hessian, layer.inverse, removed)
        columns = alive_before.numel()
        was_pruned = torch.nonzero(~alive_before.to(w.device)).reshape(-1).tolist()
        newly = removed[:columns] & alive_before.to(w.device)
        fresh = torch.nonzero(newly).reshape(-1)
        fresh = fresh[torch.argsort(scores.to(w.device)[fresh], stable=True)].tolist()
        return obs_sequential(w, layer.inverse, was_pruned + fresh)


def _inputs(target: PrunableTensor) -> int:
    return int(target.module.in_features)
