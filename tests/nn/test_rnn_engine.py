"""The recurrent engine (``rnn_native.run_stack``) against PyTorch's own kernels.

Every model here runs on the engine under test (the ``engine`` fixture: the C++ kernels and
the ``HIDDENSTRUCT_NATIVE=0`` fallback) and is compared with an identical model forced onto
PyTorch's kernels (``fused_cpu=False``): outputs, final states, every gradient (input,
initial states, weights), masks and variable lengths; gradcheck and double backward in
float64."""

from __future__ import annotations

import copy

import pytest
import torch

from hiddenstruct.nn import apply_mask, get_mask
from hiddenstruct.nn.rnn import MODES, MaskedRNN, stack_weights
from hiddenstruct.nn.rnn_native import run_stack, usable
from hiddenstruct.nn.varlen import Wiring
from hiddenstruct.testing import random_stack

ALL_MODES = list(MODES)

pytestmark = pytest.mark.usefixtures("engine")


def _pair(mode: str, sizes, seed: int, dtype=torch.float64, batch_first=True):
    """Two identical masked models: one on the engine, one on PyTorch's kernels."""
    torch.manual_seed(seed)
    ours = MaskedRNN(5, sizes, mode, batch_first=batch_first)
    gen = torch.Generator().manual_seed(seed + 1)
    for layer in ours.layers:
        for name in ("weight_ih", "weight_hh"):
            shape = get_mask(layer, name).shape
            apply_mask(layer, name, (torch.rand(shape, generator=gen) < 0.5).float())
    ours = ours.to(dtype)
    aten = copy.deepcopy(ours)
    aten.fused_cpu = False
    return ours, aten


def _states(model, x, dtype, seed=5):
    gen = torch.Generator().manual_seed(seed)
    batch = x.shape[0] if model.batch_first else x.shape[1]
    hx = []
    for h in model.hidden_sizes:
        pair = [torch.randn(batch, h, generator=gen, dtype=dtype) for _ in range(2)]
        hx.append(tuple(pair) if model.spec.has_cell else pair[0])
    return hx


def _flat(states):
    return [t for s in states for t in (s if isinstance(s, tuple) else (s,))]


def _run(model, x, lengths, hx):
    """Outputs, final states and the gradients of a weighted sum of all of them."""
    model.zero_grad()
    x = x.clone().requires_grad_()
    hx = None if hx is None else [
        tuple(t.clone().requires_grad_() for t in s) if isinstance(s, tuple)
        else s.clone().requires_grad_() for s in hx
    ]  # fmt: skip
    out, states = model(x, lengths, hx)
    values = [out, *_flat(states)]
    loss = sum(
        (v * torch.linspace(-1, 2, v.numel(), dtype=v.dtype).view_as(v)).sum() for v in values
    )
    loss.backward()
    grads = [x.grad, *(() if hx is None else [t.grad for t in _flat(hx)])]
    return values, grads + [p.grad for p in model.parameters()]


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("variable", [False, True])
@pytest.mark.parametrize("initial", [False, True])
@pytest.mark.parametrize("batch_first", [True, False])
def test_forward_and_gradients_equal_pytorch_kernels(mode, variable, initial, batch_first):
    ours, aten = _pair(mode, [6, 4, 7], seed=3, batch_first=batch_first)
    x = torch.randn(5, 9, 5, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    x = x if batch_first else x.transpose(0, 1)
    lengths = torch.tensor([9, 3, 1, 6, 9]) if variable else None
    hx = _states(ours, x, torch.float64) if initial else None
    a, b = _run(ours, x, lengths, hx), _run(aten, x, lengths, hx)
    for got, want in zip(a[0] + a[1], b[0] + b[1], strict=True):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=0)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_float32_within_1e5_and_encode_equals_forward(mode):
    ours, aten = _pair(mode, [8, 8], seed=7, dtype=torch.float32)
    x = torch.randn(6, 12, 5, generator=torch.Generator().manual_seed(2))
    lengths = [12, 4, 7, 1, 12, 9]
    hx = _states(ours, x, torch.float32)
    a, b = _run(ours, x, lengths, hx), _run(aten, x, lengths, hx)
    for got, want in zip(a[0] + a[1], b[0] + b[1], strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    h = ours(x, lengths)[1][-1]
    h = h[0] if isinstance(h, tuple) else h
    torch.testing.assert_close(ours.encode(x, lengths), h, atol=1e-6, rtol=0)


def test_the_native_engine_runs_where_usable(engine):
    model = MaskedRNN(3, [4, 4], "LSTM")
    x = torch.randn(2, 5, 3)
    out, states = model(x, [5, 2], _states(model, x, torch.float32))
    names = {out.grad_fn.name(), states[0][1].grad_fn.name(), model.encode(x).grad_fn.name()}
    native = {n for n in names if "NativeStack" in n}
    assert bool(native) == (engine != "pytorch") == usable(x)
    assert "NativeStack" not in MaskedRNN(3, [4], fused_cpu=False).encode(x).grad_fn.name()


@pytest.mark.parametrize("mode", ALL_MODES)
def test_padding_is_ignored_and_gets_no_gradient(mode):
    ours, _ = _pair(mode, [6, 5], seed=1)
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(3, 8, 5, generator=gen, dtype=torch.float64)
    lengths = torch.tensor([8, 2, 5])
    noisy = x.clone()
    for row, n in enumerate(lengths.tolist()):
        noisy[row, n:] = 1e3 * torch.randn(8 - n, 5, generator=gen, dtype=torch.float64)
    a, b = _run(ours, x, lengths, None), _run(copy.deepcopy(ours), noisy, lengths, None)
    for got, want in zip(a[0] + a[1][1:], b[0] + b[1][1:], strict=True):
        torch.testing.assert_close(got, want, atol=1e-9, rtol=0)
    for row, n in enumerate(lengths.tolist()):
        assert torch.count_nonzero(b[1][0][row, n:]) == 0
        assert torch.count_nonzero(b[0][0][row, n:]) == 0


@pytest.mark.parametrize("mode", ALL_MODES)
def test_masked_weights_get_zero_gradient(mode, assert_mask_gradients):
    ours, _ = _pair(mode, [6, 6], seed=2)
    _run(ours, torch.randn(4, 7, 5, dtype=torch.float64), [7, 2, 5, 3], None)
    assert_mask_gradients(ours)


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("dag", [False, True])
def test_gradcheck_and_gradgradcheck(mode, dag, engine):
    """Every input of the stack node: x, initial states, weights; outputs and final states
    (the fallback is PyTorch's own, checked by PyTorch; the double backward of both wirings
    runs the same recomputation, so one gradgradcheck covers it)."""
    if engine == "pytorch":
        pytest.skip("the fallback is PyTorch's own kernels")
    gen = torch.Generator().manual_seed(9)
    sizes, batch, steps, features = [3, 2], 3, 4, 2
    weights, rand = random_stack(mode, sizes, features, dag, gen)
    x, h0 = rand(batch, steps, features), [rand(batch, h) for h in sizes]
    c0 = [rand(batch, h) for h in sizes] if MODES[mode].has_cell else None
    wiring = (Wiring.dag if dag else Wiring.chain)(MODES[mode], sizes, all_layers=True)
    lengths = torch.tensor([4, 1, 3])

    def fn(x, *tensors):
        h = list(tensors[: len(sizes)])
        c = list(tensors[len(sizes) : 2 * len(sizes)]) if c0 else None
        result = run_stack(wiring, x, lengths, tensors[len(sizes) * (2 if c0 else 1) :], h, c, True)
        return (result.outputs, result.final) + ((result.final_c,) if c0 else ())

    inputs = (x, *h0, *(c0 or ()), *weights)
    assert torch.autograd.gradcheck(fn, inputs, atol=1e-6)
    if dag:
        assert torch.autograd.gradgradcheck(fn, inputs, atol=1e-5)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_double_backward_equals_pytorch_kernels(mode):
    """Hessian-vector products (``create_graph=True``, OBD's Hutchinson estimator)."""
    ours, aten = _pair(mode, [4, 3], seed=5)
    x = torch.randn(3, 6, 5, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    hvps = []
    for model in (ours, aten):
        h = model.encode(x, lengths)
        params = [layer.parametrizations.weight_hh.original for layer in model.layers]
        grads = torch.autograd.grad((h * h.sin()).sum(), params, create_graph=True)
        probes = [torch.ones_like(p) for p in params]
        hvps.append(torch.autograd.grad(grads, params, grad_outputs=probes))
    for a, b in zip(*hvps, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_stack_weights_are_the_masked_ones():
    model = MaskedRNN(3, [4], "GRU")
    apply_mask(model.layers[0], "weight_hh", torch.zeros(12, 4))
    assert torch.count_nonzero(stack_weights(model.layers)[1]) == 0
