"""The whole-stack CPU kernels behind ``MaskedRNN.encode`` against PyTorch's kernels.

Every test runs on both engines: the C++ kernels (``rnn_native``, the default where a
compiler is found) and the TorchScript fallback (``HIDDENSTRUCT_NATIVE=0``)."""

from __future__ import annotations

import copy

import pytest
import torch

from hiddenstruct.nn import apply_mask, get_mask
from hiddenstruct.nn.rnn import MODES, STACK_CPU_MODES, MaskedRNN, hidden_of
from hiddenstruct.nn.rnn_stack import stack_final_hidden

ALL_MODES = list(MODES)


pytestmark = pytest.mark.usefixtures("engine")


def _pair(mode: str, sizes, seed: int, dtype=torch.float64, batch_first=True):
    """Two identical masked models: one on the stack kernel, one on PyTorch's kernels."""
    torch.manual_seed(seed)
    stack = MaskedRNN(5, sizes, mode, batch_first=batch_first, fused_cpu=True)
    gen = torch.Generator().manual_seed(seed + 1)
    for layer in stack.layers:
        for name in ("weight_ih", "weight_hh"):
            shape = get_mask(layer, name).shape
            apply_mask(layer, name, (torch.rand(shape, generator=gen) < 0.5).float())
    stack = stack.to(dtype)
    aten = copy.deepcopy(stack)
    aten.fused_cpu = False
    return stack, aten


def _encode_and_grads(model, x, lengths, reference: bool):
    """``(h, x.grad, {name: grad})`` for a weighted sum of the final hidden state."""
    x = x.clone().requires_grad_()
    h = hidden_of(model(x, lengths)[1][-1]) if reference else model.encode(x, lengths)
    weights = torch.linspace(-1, 2, h.numel(), dtype=h.dtype).view(h.shape)
    (h * weights).sum().backward()
    return h, x.grad, {n: p.grad for n, p in model.named_parameters()}


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("variable", [False, True])
@pytest.mark.parametrize("batch_first", [True, False])
def test_encode_and_gradients_equal_pytorch_kernels(mode, variable, batch_first, engine):
    stack, aten = _pair(mode, [6, 4, 7], seed=3, batch_first=batch_first)
    x = torch.randn(5, 9, 5, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    x = x if batch_first else x.transpose(0, 1)
    lengths = torch.tensor([9, 3, 1, 6, 9]) if variable else None
    h, dx, grads = _encode_and_grads(stack, x, lengths, reference=False)
    expected = "NativeStackFinal" if engine == "native" else "_StackFinal"
    assert h.grad_fn.name().startswith(expected)
    h_ref, dx_ref, grads_ref = _encode_and_grads(aten, x, lengths, reference=True)
    torch.testing.assert_close(h, h_ref, atol=1e-10, rtol=0)
    torch.testing.assert_close(dx, dx_ref, atol=1e-10, rtol=0)
    assert grads.keys() == grads_ref.keys()
    for name in grads:
        torch.testing.assert_close(grads[name], grads_ref[name], atol=1e-10, rtol=0, msg=name)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_float32_within_tolerance(mode):
    stack, aten = _pair(mode, [8, 8], seed=7, dtype=torch.float32)
    x = torch.randn(6, 12, 5, generator=torch.Generator().manual_seed(2))
    lengths = [12, 4, 7, 1, 12, 9]
    a = _encode_and_grads(stack, x, lengths, reference=False)
    b = _encode_and_grads(aten, x, lengths, reference=True)
    torch.testing.assert_close(a[0], b[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(a[1], b[1], atol=1e-5, rtol=0)
    for name in a[2]:
        torch.testing.assert_close(a[2][name], b[2][name], atol=1e-5, rtol=1e-5, msg=name)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_padding_is_ignored_and_gets_no_gradient(mode):
    stack, _ = _pair(mode, [6, 5], seed=1)
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(3, 8, 5, generator=gen, dtype=torch.float64)
    lengths = torch.tensor([8, 2, 5])
    noisy = x.clone()
    for row, n in enumerate(lengths.tolist()):
        noisy[row, n:] = 1e3 * torch.randn(8 - n, 5, generator=gen, dtype=torch.float64)
    a = _encode_and_grads(stack, x, lengths, reference=False)
    b = _encode_and_grads(copy.deepcopy(stack), noisy, lengths, reference=False)
    torch.testing.assert_close(a[0], b[0], atol=1e-12, rtol=0)
    for name in a[2]:
        torch.testing.assert_close(a[2][name], b[2][name], atol=1e-10, rtol=0, msg=name)
    for row, n in enumerate(lengths.tolist()):
        assert torch.count_nonzero(b[1][row, n:]) == 0


@pytest.mark.parametrize("mode", ALL_MODES)
def test_masked_weights_get_zero_gradient(mode, assert_mask_gradients):
    stack, _ = _pair(mode, [6, 6], seed=2)
    _encode_and_grads(stack, torch.randn(4, 7, 5, dtype=torch.float64), [7, 2, 5, 3], False)
    assert_mask_gradients(stack)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_gradcheck_two_layers(mode):
    gates = MODES[mode].gates
    gen = torch.Generator().manual_seed(9)
    steps, batch, features, sizes = 5, 3, 4, [3, 2]

    def rand(*shape):
        return (0.5 * torch.randn(*shape, generator=gen, dtype=torch.float64)).requires_grad_()

    x = rand(batch, steps, features)
    params = []
    for inputs, hidden in zip([features, *sizes[:-1]], sizes, strict=True):
        params += [rand(gates * hidden, inputs), rand(gates * hidden, hidden)]
        params += [rand(gates * hidden), rand(gates * hidden)]
    lengths = torch.tensor([5, 2, 4])

    def fn(x, *weights):
        layers = [weights[i : i + 4] for i in range(0, len(weights), 4)]
        return stack_final_hidden(mode, x, lengths, layers)

    assert torch.autograd.gradcheck(fn, (x, *params), atol=1e-6)


def test_forward_and_initial_states_keep_the_per_layer_path():
    model = MaskedRNN(3, [4, 4], "GRU", fused_cpu=True)
    x, lengths = torch.randn(2, 5, 3), torch.tensor([5, 2])
    hx = [torch.randn(2, 4), torch.randn(2, 4)]
    out, states = model(x, lengths, hx)
    assert "StackFinal" not in states[-1].grad_fn.name()
    assert "StackFinal" not in MaskedRNN(3, [4], "GRU", fused_cpu=False).encode(x).grad_fn.name()


def test_encode_dispatch():
    x = torch.zeros(1, 2, 3)
    for mode in MODES:
        assert MaskedRNN(3, [4], mode)._use_stack(x) == (mode in STACK_CPU_MODES)
        assert MaskedRNN(3, [4], mode, fused_cpu=True)._use_stack(x)
        assert not MaskedRNN(3, [4], mode, fused_cpu=False)._use_stack(x)
        assert not MaskedRNN(3, [4], mode)._use_stack(torch.zeros(1, 2, 3, device="meta"))


@pytest.mark.parametrize("mode", ALL_MODES)
def test_double_backward_equals_pytorch_kernels(mode):
    """Hessian-vector products (``create_graph=True``) go through PyTorch's kernels."""
    stack, aten = _pair(mode, [4, 3], seed=5)
    x = torch.randn(3, 6, 5, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    hvps = []
    for model, reference in ((stack, False), (aten, True)):
        h = hidden_of(model(x, lengths)[1][-1]) if reference else model.encode(x, lengths)
        params = [layer.parametrizations.weight_hh.original for layer in model.layers]
        grads = torch.autograd.grad((h * h.sin()).sum(), params, create_graph=True)
        probes = [torch.ones_like(p) for p in params]
        hvps.append(torch.autograd.grad(grads, params, grad_outputs=probes))
    for a, b in zip(*hvps, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
