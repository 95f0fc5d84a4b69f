"""Masked weights handed to the recurrent engine unmasked, with their masks (``premask``):
the engine multiplies them itself, one autograd node for the whole stack instead of one
product per weight. Same function and gradients as the parametrized (masked) tensors."""

from __future__ import annotations

import pytest
import torch
from torch.nn.modules import module as modules
from torch.nn.utils import parametrize

from hiddenstruct.nn import MaskedRNN, apply_mask, native, rnn_native
from hiddenstruct.nn.masking import original, plain_mask
from hiddenstruct.nn.rnn import MODES, engine_operands, stack_weights
from hiddenstruct.nn.rnn_native import run_stack, usable
from hiddenstruct.nn.varlen import Wiring, torch_stack
from hiddenstruct.testing import random_stack

ALL_MODES = list(MODES)


def _model(mode: str, dtype=torch.float64) -> MaskedRNN:
    torch.manual_seed(0)
    model = MaskedRNN(3, [4, 5], mode).to(dtype)
    gen = torch.Generator().manual_seed(1)
    for layer in model.layers:
        for name in ("weight_ih", "weight_hh"):
            shape = getattr(layer, name).shape
            apply_mask(layer, name, (torch.rand(shape, generator=gen) < 0.5).to(dtype))
    return model


def test_plain_masks_go_to_the_engine_unmasked():
    model = _model("GRU")
    weights, masks, premask = engine_operands(model.layers)
    for index, (layer, pair) in enumerate(zip(model.layers, masks, strict=True)):
        i = 4 * index
        assert weights[i] is original(layer, "weight_ih")
        assert weights[i + 1] is original(layer, "weight_hh")
        assert premask[i] is pair[0] is layer.parametrizations.weight_ih[0].mask
        assert premask[i + 1] is pair[1] is layer.parametrizations.weight_hh[0].mask
        assert weights[i + 2] is layer.bias_ih and premask[i + 2] is None


def _global_hook_keeps_every_weight_masked(model, register) -> None:
    handle = register(lambda *a: None)
    try:
        assert all(m is None for m in engine_operands(model.layers)[2])
    finally:
        handle.remove()


class _Scale(torch.nn.Module):
    def forward(self, w):
        return 2 * w


def test_watched_or_further_parametrized_masks_stay_masked_tensors():
    """A forward hook on a mask (RigL's dense gradients use one), a global forward hook or a
    second parametrization must see the masked tensor computed: those weights are passed
    masked, as before."""
    model = _model("LSTM")
    first, second = model.layers
    handle = first.parametrizations.weight_ih[0].register_forward_hook(lambda *a: None)
    parametrize.register_parametrization(second, "weight_hh", _Scale())
    try:
        weights, _, premask = engine_operands(model.layers)
        assert plain_mask(first, "weight_ih") is None and premask[0] is None
        assert weights[0] is not original(first, "weight_ih")
        assert premask[1] is not None and premask[4] is not None
        assert premask[5] is None and plain_mask(second, "weight_hh") is None
        torch.testing.assert_close(weights[5], stack_weights(model.layers)[5])
    finally:
        handle.remove()
    _global_hook_keeps_every_weight_masked(model, modules.register_module_forward_hook)
    assert engine_operands(model.layers)[2][0] is not None


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("sparse", [False, True])
def test_premasked_stack_equals_the_masked_weights(mode, sparse, monkeypatch):
    """Outputs, final states and every gradient (the originals' are masked) equal those of
    the stack on the parametrized tensors; gradcheck and gradgradcheck (OBD's double
    backward) hold for the premasked function, on dense and on sparse products."""
    if not usable(torch.zeros(1)):
        pytest.skip("no C++ compiler: the native kernels are not built")
    monkeypatch.setattr(rnn_native, "FORCE_SPARSE", sparse)
    gen = torch.Generator().manual_seed(5)
    sizes, features = [3, 4], 2
    weights, rand = random_stack(mode, sizes, features, True, gen)
    premask = [
        (torch.rand(w.shape, generator=gen) < 0.6).double() if w.dim() == 2 else None
        for w in weights
    ]
    masks = [(premask[4 * i], premask[4 * i + 1]) for i in range(len(sizes))]
    wiring = Wiring.dag(MODES[mode], sizes, all_layers=True)
    x, lengths = rand(3, 4, features), torch.tensor([4, 1, 3])

    def fn(x, *flat):
        result = run_stack(wiring, x, lengths, flat, outputs=True, masks=masks, premask=premask)
        return (result.outputs, result.final) + ((result.final_c,) if MODES[mode].has_cell else ())

    def masked(x, *flat):
        flat = [w if m is None else w * m for w, m in zip(flat, premask, strict=True)]
        result = run_stack(wiring, x, lengths, flat, outputs=True, masks=masks)
        return (result.outputs, result.final) + ((result.final_c,) if MODES[mode].has_cell else ())

    got, want = fn(x, *weights), masked(x, *weights)
    probes = [torch.randn(t.shape, generator=gen, dtype=t.dtype) for t in got]
    grads = []
    for result in (got, want):
        loss = sum((t * probe).sum() for t, probe in zip(result, probes, strict=True))
        grads.append(torch.autograd.grad(loss, [x, *weights]))
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    grads = grads[0]
    for g, m in zip(grads[1:], premask, strict=True):
        if m is not None:
            assert torch.count_nonzero(g[m == 0]) == 0
    inputs = (x, *weights)
    assert torch.autograd.gradcheck(fn, inputs, atol=1e-6)
    assert torch.autograd.gradgradcheck(fn, inputs, atol=1e-5)


def test_premask_on_the_fallback_kernels(monkeypatch):
    """With the engine off, ``run_stack`` multiplies the premasked weights itself."""
    gen = torch.Generator().manual_seed(2)
    weights, rand = random_stack("GRU", [3], 2, False, gen)
    premask = [(torch.rand(weights[0].shape, generator=gen) < 0.5).double(), None, None, None]
    wiring = Wiring.chain(MODES["GRU"], [3])
    x = rand(2, 3, 2)
    monkeypatch.setenv(native.ENV_SWITCH, "0")
    got = run_stack(wiring, x, None, weights, premask=premask).final
    want = torch_stack(wiring, x, None, [weights[0] * premask[0], *weights[1:]]).final
    torch.testing.assert_close(got, want, atol=0, rtol=0)


def test_a_premask_that_does_not_fit_its_weight_is_refused():
    if not usable(torch.zeros(1)):
        pytest.skip("no C++ compiler: the native kernels are not built")
    gen = torch.Generator().manual_seed(2)
    weights, rand = random_stack("GRU", [3], 2, False, gen)
    wiring = Wiring.chain(MODES["GRU"], [3])
    with pytest.raises(ValueError, match="weight 0: its mask"):
        run_stack(
            wiring, rand(2, 3, 2), None, weights, premask=[torch.ones(9, 3), None, None, None]
        )
    with pytest.raises(ValueError, match="one premask entry per weight"):
        run_stack(wiring, rand(2, 3, 2), None, weights, premask=[torch.ones(9, 2)])


@pytest.mark.parametrize("mode", ALL_MODES)
def test_model_gradients_match_the_parametrized_path(mode):
    """A MaskedRNN's parameters' gradients (engine, premasked) equal those of the
    PyTorch-kernel path on the parametrized tensors (``fused_cpu=False``)."""
    if not usable(torch.zeros(1)):
        pytest.skip("no C++ compiler: the native kernels are not built")
    model = _model(mode)
    x = torch.randn(3, 5, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 4])
    results = []
    for fused in (None, False):
        model.fused_cpu = fused
        model.zero_grad()
        out, states = model(x, lengths)
        finals = [t for s in states for t in (s if isinstance(s, tuple) else (s,))]
        (out.sin().sum() + sum(t.square().sum() for t in finals)).backward()
        results.append([out.detach(), *(p.grad.clone() for p in model.parameters())])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_what_could_watch_the_product_keeps_the_masked_path():
    """A mask that needs a gradient (SNIP-style scores), a backward hook on a mask, a global
    backward hook and ``parametrize.cached()`` all see the masked tensor computed."""
    model = _model("GRU")
    first = model.layers[0]
    mask = first.parametrizations.weight_hh[0].mask
    mask.requires_grad_()
    try:
        assert plain_mask(first, "weight_hh") is None
        x = torch.randn(2, 3, 3, dtype=torch.float64)
        model(x)[0].sum().backward()
        assert mask.grad is not None and torch.count_nonzero(mask.grad) > 0
    finally:
        mask.requires_grad_(False)
    handle = first.parametrizations.weight_ih[0].register_full_backward_hook(lambda *a: None)
    try:
        assert plain_mask(first, "weight_ih") is None
    finally:
        handle.remove()
    _global_hook_keeps_every_weight_masked(model, modules.register_module_full_backward_hook)
    with parametrize.cached():
        assert plain_mask(first, "weight_ih") is None
        weight = first.weight_ih
        out = model(torch.randn(2, 3, 3, dtype=torch.float64))[0].sum()
        assert torch.autograd.grad(out, weight)[0].shape == weight.shape
    assert plain_mask(first, "weight_ih") is not None


def test_a_mask_changed_between_forward_and_backward_is_refused():
    """As autograd refuses it for the product ``W ⊙ mask``: the gradient would be wrong."""
    if not usable(torch.zeros(1)):
        pytest.skip("no C++ compiler: the native kernels are not built")
    model = _model("LSTM")
    out, _ = model(torch.randn(2, 3, 3, dtype=torch.float64))
    apply_mask(model.layers[0], "weight_hh", torch.ones_like(model.layers[0].weight_hh))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
