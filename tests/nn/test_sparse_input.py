"""Sparse input products of the recurrent engine (``rnn_native``): a layer whose input mask
is sparse multiplies only the mask's entries; against PyTorch's kernels on the masked
weights and against the engine's dense products."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from hiddenstruct.nn import rnn_native
from hiddenstruct.nn.graphrnn import GraphRNN
from hiddenstruct.nn.rnn import MODES, input_masks
from hiddenstruct.nn.rnn_native import run_stack, usable
from hiddenstruct.nn.varlen import Wiring, torch_stack

ALL_MODES = list(MODES)

needs_native = pytest.mark.skipif(
    not usable(torch.zeros(1)), reason="no C++ compiler: the native kernels are not built"
)
pytestmark = needs_native


def _random_stack(mode, sizes, features, dag, gen):
    def rand(*shape):
        return (0.5 * torch.randn(*shape, generator=gen, dtype=torch.float64)).requires_grad_()

    gates, weights, offsets = MODES[mode].gates, [], [0]
    for layer, hidden in enumerate(sizes):
        width = features if layer == 0 else (offsets[-1] if dag else sizes[layer - 1])
        weights += [rand(gates * hidden, width), rand(gates * hidden, hidden)]
        weights += [rand(gates * hidden), rand(gates * hidden)]
        offsets.append(offsets[-1] + hidden)
    return weights, rand


def _masked_stack(mode, sizes, features, dag, gen, density=0.3):
    weights, rand = _random_stack(mode, sizes, features, dag, gen)
    masks = [(torch.rand(w.shape, generator=gen) < density).double() for w in weights[::4]]
    return weights, masks, rand


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("dag", [False, True])
def test_sparse_input_products_compute_the_stack_of_the_masked_weights(mode, dag, monkeypatch):
    """On sparse input products the engine's function is the stack of ``W_ih ⊙ mask`` (it
    reads ``W_ih`` only on the mask) — checked against PyTorch's kernels on the masked
    weights for raw ``W_ih`` — and gradcheck / gradgradcheck hold for that function."""
    monkeypatch.setattr(rnn_native, "SPARSE_INPUT_DENSITY", 1.0)
    gen = torch.Generator().manual_seed(11)
    sizes, batch, steps, features = [4, 3], 3, 5, 3
    weights, masks, rand = _masked_stack(mode, sizes, features, dag, gen)
    x, h0 = rand(batch, steps, features), [rand(batch, h) for h in sizes]
    c0 = [rand(batch, h) for h in sizes] if MODES[mode].has_cell else None
    wiring = (Wiring.dag if dag else Wiring.chain)(MODES[mode], sizes, all_layers=True)
    lengths = torch.tensor([5, 2, 4])
    assert all(s is not None for s in rnn_native.sparse_layers(masks, 1.0))

    def fn(x, *tensors):
        h = list(tensors[: len(sizes)])
        c = list(tensors[len(sizes) : 2 * len(sizes)]) if c0 else None
        flat = tensors[len(sizes) * (2 if c0 else 1) :]
        result = run_stack(wiring, x, lengths, flat, h, c, True, input_masks=masks)
        return (result.outputs, result.final) + ((result.final_c,) if c0 else ())

    masked = [w * masks[i // 4] if i % 4 == 0 else w for i, w in enumerate(weights)]
    want = torch_stack(wiring, x, lengths, masked, h0, c0, outputs=True)
    for got, expected in zip(fn(x, *h0, *(c0 or ()), *weights), want, strict=False):
        torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
    inputs = (x, *h0, *(c0 or ()), *weights)
    assert torch.autograd.gradcheck(fn, inputs, atol=1e-6)
    if dag:
        assert torch.autograd.gradgradcheck(fn, inputs, atol=1e-5)


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sparse_and_dense_input_products_agree(mode, dtype, monkeypatch):
    """A sparse GraphRNN (layers of ~10 % density) on sparse and on dense input products:
    outputs, final states and every gradient, over variable lengths."""
    graph = nx.gnp_random_graph(40, 0.08, seed=3, directed=True)
    dag = nx.DiGraph((u, v) for u, v in graph.edges if u < v)
    dag.add_nodes_from(range(40))
    torch.manual_seed(0)
    torch.manual_seed(0)
    model = GraphRNN(dag, 6, mode).to(dtype)
    x = torch.randn(7, 9, 6, dtype=dtype, requires_grad=True)
    lengths = torch.tensor([9, 3, 1, 9, 5, 7, 2])
    results = []
    for density in (0.0, 1.0):
        monkeypatch.setattr(rnn_native, "SPARSE_INPUT_DENSITY", density)
        model.zero_grad()
        x.grad = None
        out = model.layer_states(x, lengths)
        sum(o.sin().sum() for o in out).backward()
        results.append([*out, x.grad, *(p.grad for p in model.parameters())])
    structure = rnn_native.sparse_layers(input_masks(model.layers), 1.0)
    assert sum(s is not None for s in structure) == len(model.layers)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    for sparse, dense in zip(*results, strict=True):
        torch.testing.assert_close(sparse, dense, atol=tol, rtol=tol)


def test_input_structure_follows_its_mask():
    """The cached structure is rebuilt when the mask changes in place; its density and the
    threshold decide which layers run sparse."""
    mask = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    first = rnn_native.input_structure(mask)
    assert first.rows.tolist() == [0, 2, 3] and first.cols.tolist() == [0, 2, 2]
    assert rnn_native.input_structure(mask) is first
    mask[1, 0] = 1.0
    second = rnn_native.input_structure(mask)
    assert second.rows.tolist() == [0, 2, 4] and second.cols.tolist() == [0, 2, 0, 2]
    assert rnn_native.sparse_layers([mask, None], max_density=0.5) is None
    found = rnn_native.sparse_layers([mask, None], max_density=0.7)
    assert found[0] is second and found[1] is None
    assert rnn_native.sparse_layers(None) is None


def test_a_structure_of_the_wrong_shape_is_refused():
    gen = torch.Generator().manual_seed(2)
    weights, masks, rand = _masked_stack("GRU", [3], 2, False, gen)
    wiring = Wiring.chain(MODES["GRU"], [3], all_layers=True)
    wrong = [torch.zeros(9, 3, dtype=torch.float64)]
    wrong[0][0, 2] = 1.0  # sparse, so it would run sparse: for columns W_ih does not have
    with pytest.raises(ValueError, match="input structure is for"):
        run_stack(wiring, rand(2, 3, 2), None, weights, input_masks=wrong)
