"""The CPU TorchScript recurrent kernels (hand-written backward) against PyTorch's kernels."""

from __future__ import annotations

import copy

import pytest
import torch

from hiddenstruct.nn import apply_mask, get_mask
from hiddenstruct.nn.rnn import FUSED_CPU_MODES, MODES, MaskedRNN
from hiddenstruct.nn.rnn_fused import KINDS, fused_layer, step_masks

ALL_MODES = list(MODES)


def _pair(mode: str, sizes, seed: int, masked: bool, dtype=torch.float64):
    """Two identical models: one forced onto the fused kernels, one onto PyTorch's."""
    torch.manual_seed(seed)
    fused = MaskedRNN(5, sizes, mode, fused_cpu=True)
    if masked:
        gen = torch.Generator().manual_seed(seed + 1)
        for layer in fused.layers:
            for name in ("weight_ih", "weight_hh"):
                shape = get_mask(layer, name).shape
                apply_mask(layer, name, (torch.rand(shape, generator=gen) < 0.5).float())
    fused = fused.to(dtype)
    aten = copy.deepcopy(fused)
    aten.fused_cpu = False
    return fused, aten


def _flat_states(states):
    return [s for st in states for s in (st if isinstance(st, tuple) else (st,))]


def _loss(out, states):
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view(out.shape)
    total = (out * weights).sum()
    for k, s in enumerate(_flat_states(states)):
        total = total + (k + 1) * 0.3 * (s * s.cos()).sum()
    return total


def _run(model, x, lengths, hx):
    x = x.clone().requires_grad_()
    hx = (
        None
        if hx is None
        else [
            tuple(t.clone().requires_grad_() for t in s)
            if isinstance(s, tuple)
            else s.clone().requires_grad_()
            for s in hx
        ]
    )
    out, states = model(x, lengths, hx)
    _loss(out, states).backward()
    hx_grads = [] if hx is None else [t.grad for t in _flat_states(hx)]
    grads = {n: p.grad for n, p in model.named_parameters()}
    return out, states, x.grad, grads, hx_grads


def _initial_states(model, batch, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    hx = []
    for layer in model.layers:
        h = torch.randn(batch, layer.hidden_size, generator=gen, dtype=dtype)
        hx.append(
            (h, torch.randn(h.shape, generator=gen, dtype=dtype)) if model.mode == "LSTM" else h
        )
    return hx


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("variable", [False, True])
@pytest.mark.parametrize("with_hx", [False, True])
def test_fused_equals_pytorch_kernels(mode, masked, variable, with_hx):
    fused, aten = _pair(mode, [6, 4, 7], seed=3, masked=masked)
    gen = torch.Generator().manual_seed(11)
    x = torch.randn(5, 9, 5, generator=gen, dtype=torch.float64)
    lengths = torch.tensor([9, 3, 1, 6, 9]) if variable else None
    hx = _initial_states(fused, 5, torch.float64, 5) if with_hx else None
    a = _run(fused, x, lengths, hx)
    b = _run(aten, x, lengths, hx)
    torch.testing.assert_close(a[0], b[0], atol=1e-10, rtol=0)
    for s, t in zip(_flat_states(a[1]), _flat_states(b[1]), strict=True):
        torch.testing.assert_close(s, t, atol=1e-10, rtol=0)
    torch.testing.assert_close(a[2], b[2], atol=1e-10, rtol=0)
    assert a[3].keys() == b[3].keys()
    for name in a[3]:
        torch.testing.assert_close(a[3][name], b[3][name], atol=1e-10, rtol=0, msg=name)
    for g, h in zip(a[4], b[4], strict=True):
        torch.testing.assert_close(g, h, atol=1e-10, rtol=0)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_float32_within_tolerance_and_batch_second_layout(mode):
    fused, aten = _pair(mode, [8, 8], seed=7, masked=True, dtype=torch.float32)
    fused.batch_first = aten.batch_first = False
    x = torch.randn(12, 6, 5, generator=torch.Generator().manual_seed(2))
    lengths = [12, 4, 7, 1, 12, 9]
    a, b = _run(fused, x, lengths, None), _run(aten, x, lengths, None)
    torch.testing.assert_close(a[0], b[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(a[2], b[2], atol=1e-5, rtol=0)
    for name in a[3]:
        torch.testing.assert_close(a[3][name], b[3][name], atol=1e-5, rtol=1e-5, msg=name)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_padding_is_ignored_and_outputs_zero_there(mode):
    fused, _ = _pair(mode, [6], seed=1, masked=True)
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(3, 8, 5, generator=gen, dtype=torch.float64)
    lengths = torch.tensor([8, 2, 5])
    noisy = x.clone()
    for b, n in enumerate(lengths.tolist()):
        noisy[b, n:] = 1e3 * torch.randn(8 - n, 5, generator=gen, dtype=torch.float64)
    a, b = _run(fused, x, lengths, None), _run(copy.deepcopy(fused), noisy, lengths, None)
    torch.testing.assert_close(a[0], b[0], atol=1e-12, rtol=0)
    for name in a[3]:
        torch.testing.assert_close(a[3][name], b[3][name], atol=1e-10, rtol=0)
    for row, n in enumerate(lengths.tolist()):
        assert torch.count_nonzero(a[0][row, n:]) == 0
        assert torch.count_nonzero(a[2][row, n:]) == 0  # no gradient into padding


@pytest.mark.parametrize("mode", ALL_MODES)
def test_masked_weights_get_zero_gradient(mode, assert_mask_gradients):
    fused, _ = _pair(mode, [6, 6], seed=2, masked=True)
    x = torch.randn(4, 7, 5, dtype=torch.float64)
    _run(fused, x, [7, 2, 5, 3], None)
    assert_mask_gradients(fused)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_gradcheck_single_layer(mode):
    gates = MODES[mode].gates
    gen = torch.Generator().manual_seed(9)
    steps, batch, features, hidden = 5, 3, 4, 3

    def rand(*shape):
        return (0.5 * torch.randn(*shape, generator=gen, dtype=torch.float64)).requires_grad_()

    x = rand(steps, batch, features)
    h0, c0 = rand(batch, hidden), rand(batch, hidden)
    weights = [rand(gates * hidden, features), rand(gates * hidden, hidden)]
    biases = [rand(gates * hidden), rand(gates * hidden)]
    valid, last = step_masks(torch.tensor([5, 2, 4]), steps, batch, x.device)

    def fn(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        state = (h0, c0) if mode == "LSTM" else h0
        out, final = fused_layer(mode, x, valid, last, state, w_ih, w_hh, b_ih, b_hh)
        return (out, *final) if isinstance(final, tuple) else (out, final)

    assert torch.autograd.gradcheck(fn, (x, h0, c0, *weights, *biases), atol=1e-6)


def test_default_dispatch_and_cuda_untouched():
    x = torch.zeros(1, 2, 3)
    for mode in MODES:
        model = MaskedRNN(3, [4], mode)
        assert model._use_fused(x) == (mode in FUSED_CPU_MODES)
        assert MaskedRNN(3, [4], mode, fused_cpu=True)._use_fused(x)
        assert not MaskedRNN(3, [4], mode, fused_cpu=False)._use_fused(x)
        assert not model._use_fused(torch.zeros(1, 2, 3, device="meta"))
    assert set(KINDS) == set(MODES)


def test_step_masks():
    valid, last = step_masks(torch.tensor([3, 1]), 4, 2, torch.device("cpu"))
    assert valid.shape == (4, 2, 1)
    assert valid[:, 0, 0].tolist() == [True, True, True, False]
    assert valid[:, 1, 0].tolist() == [True, False, False, False]
    assert last.tolist() == [2, 0]
    all_valid, all_last = step_masks(None, 3, 2, torch.device("cpu"))
    assert bool(all_valid.all()) and all_last.tolist() == [2, 2]
