"""Sparse products of the recurrent engine (``rnn_native``): a weight whose mask is sparse
(``W_ih`` or ``W_hh``) is multiplied only at the mask's entries; against PyTorch's kernels
on the masked weights and against the engine's dense products."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from hiddenstruct.nn import rnn_native
from hiddenstruct.nn.graphrnn import GraphRNN
from hiddenstruct.nn.rnn import MODES, layer_masks
from hiddenstruct.nn.rnn_native import run_stack, usable
from hiddenstruct.nn.varlen import Wiring, torch_stack
from hiddenstruct.testing import random_stack

ALL_MODES = list(MODES)

needs_native = pytest.mark.skipif(
    not usable(torch.zeros(1)), reason="no C++ compiler: the native kernels are not built"
)
pytestmark = needs_native


def _masked_stack(mode, sizes, features, dag, gen, density=0.3):
    """Random weights and per layer (mask_ih, mask_hh); the second layer's W_hh unmasked."""
    weights, rand = random_stack(mode, sizes, features, dag, gen)

    def mask(w):
        return (torch.rand(w.shape, generator=gen) < density).double()

    masks = [(mask(weights[4 * i]), mask(weights[4 * i + 1])) for i in range(len(sizes))]
    masks[-1] = (masks[-1][0], None)
    return weights, masks, rand


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("dag", [False, True])
def test_sparse_products_compute_the_stack_of_the_masked_weights(mode, dag, monkeypatch):
    """On sparse products the engine's function is the stack of ``W ⊙ mask`` (it reads a
    weight only on its mask) — checked against PyTorch's kernels on the masked weights for
    raw weights — and gradcheck / gradgradcheck hold for that function."""
    monkeypatch.setattr(rnn_native, "FORCE_SPARSE", True)
    gen = torch.Generator().manual_seed(11)
    sizes, batch, steps, features = [4, 3], 3, 5, 3
    weights, masks, rand = _masked_stack(mode, sizes, features, dag, gen)
    x, h0 = rand(batch, steps, features), [rand(batch, h) for h in sizes]
    c0 = [rand(batch, h) for h in sizes] if MODES[mode].has_cell else None
    wiring = (Wiring.dag if dag else Wiring.chain)(MODES[mode], sizes, all_layers=True)
    lengths = torch.tensor([5, 2, 4])
    structure = rnn_native.sparse_structure(masks, force=True)
    assert [[s is not None for s in pair] for pair in structure] == [[True, True], [True, False]]

    def fn(x, *tensors):
        h = list(tensors[: len(sizes)])
        c = list(tensors[len(sizes) : 2 * len(sizes)]) if c0 else None
        flat = tensors[len(sizes) * (2 if c0 else 1) :]
        result = run_stack(wiring, x, lengths, flat, h, c, True, masks=masks)
        return (result.outputs, result.final) + ((result.final_c,) if c0 else ())

    masked = list(weights)
    for layer, pair in enumerate(masks):
        for which, m in enumerate(pair):
            if m is not None:
                masked[4 * layer + which] = weights[4 * layer + which] * m
    want = torch_stack(wiring, x, lengths, masked, h0, c0, outputs=True)
    for got, expected in zip(fn(x, *h0, *(c0 or ()), *weights), want, strict=False):
        torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
    inputs = (x, *h0, *(c0 or ()), *weights)
    assert torch.autograd.gradcheck(fn, inputs, atol=1e-6)
    if dag:
        assert torch.autograd.gradgradcheck(fn, inputs, atol=1e-5)


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sparse_and_dense_products_agree(mode, dtype, monkeypatch):
    """A sparse GraphRNN on sparse and on dense products: final states of every layer and
    every gradient, over variable lengths."""
    graph = nx.gnp_random_graph(40, 0.08, seed=3, directed=True)
    dag = nx.DiGraph((u, v) for u, v in graph.edges if u < v)
    dag.add_nodes_from(range(40))
    torch.manual_seed(0)
    torch.manual_seed(0)
    model = GraphRNN(dag, 6, mode).to(dtype)
    x = torch.randn(7, 9, 6, dtype=dtype, requires_grad=True)
    lengths = torch.tensor([9, 3, 1, 9, 5, 7, 2])
    results = []
    for force in (False, True):
        monkeypatch.setattr(rnn_native, "FORCE_SPARSE", force)
        monkeypatch.setattr(rnn_native, "SPARSE_DENSITY", (0.0, 0.0))  # unforced: all dense
        model.zero_grad()
        x.grad = None
        out = model.layer_states(x, lengths)
        sum(o.sin().sum() for o in out).backward()
        results.append([*out, x.grad, *(p.grad for p in model.parameters())])
    structure = rnn_native.sparse_structure(layer_masks(model.layers), force=True)
    assert all(s is not None for pair in structure for s in pair)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    for sparse, dense in zip(*results, strict=True):
        torch.testing.assert_close(sparse, dense, atol=tol, rtol=tol)


def test_mask_structure_follows_its_mask():
    """The cached structure is rebuilt when the mask changes in place."""
    mask = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    first = rnn_native.mask_structure(mask)
    assert first.rows.tolist() == [0, 2, 3] and first.cols.tolist() == [0, 2, 2]
    assert first.density == 0.5 == rnn_native.mask_density(mask)
    assert rnn_native.mask_structure(mask) is first
    mask[1, 0] = 1.0
    assert rnn_native.mask_density(mask) == 4 / 6
    second = rnn_native.mask_structure(mask)
    assert second.rows.tolist() == [0, 2, 4] and second.cols.tolist() == [0, 2, 0, 2]
    assert rnn_native.sparse_structure([(mask, None)]) is None  # 4 of 6: dense
    found = rnn_native.sparse_structure([(mask, None), (None, mask)], force=True)
    assert found == ((second, None), (None, second))
    assert rnn_native.sparse_structure(None) is None


def test_sparse_products_are_chosen_by_density(monkeypatch):
    """A weight runs sparse at most SPARSE_DENSITY dense (W_ih, W_hh), dense above;
    HIDDENSTRUCT_SPARSE=0 turns sparse products off unless forced."""
    gen = torch.Generator().manual_seed(0)
    limit_ih, limit_hh = rnn_native.SPARSE_DENSITY

    def mask(density):  # exactly this density (of 60 x 20 entries; W_hh-shaped for 20 units)
        keep = torch.zeros(1200)
        keep[torch.randperm(1200, generator=gen)[: round(density * 1200)]] = 1.0
        return keep.reshape(60, 20)

    above = 1 / 1200
    masks = [(mask(limit_ih), mask(limit_hh + above)), (mask(limit_ih + above), mask(limit_hh))]
    found = rnn_native.sparse_structure(masks)
    assert [[s is not None for s in pair] for pair in found] == [[True, False], [False, True]]
    monkeypatch.setenv(rnn_native.ENV_SPARSE, "0")
    assert rnn_native.sparse_structure(masks) is None
    assert rnn_native.sparse_structure(masks, force=True) is not None


def test_a_structure_of_the_wrong_shape_is_refused(monkeypatch):
    monkeypatch.setattr(rnn_native, "FORCE_SPARSE", True)
    gen = torch.Generator().manual_seed(2)
    weights, masks, rand = _masked_stack("GRU", [3], 2, False, gen)
    wiring = Wiring.chain(MODES["GRU"], [3], all_layers=True)
    wrong = torch.zeros(9, 3, dtype=torch.float64)
    wrong[0, 2] = 1.0  # for a column W_ih does not have
    with pytest.raises(ValueError, match="structure of W_ih is for"):
        run_stack(wiring, rand(2, 3, 2), None, weights, masks=[(wrong, None)])
    with pytest.raises(ValueError, match="one .W_ih, W_hh. structure per layer"):
        run_stack(wiring, rand(2, 3, 2), None, weights, masks=[(wrong, None)] * 2)


def _sparse_rnn(mode="GRU"):
    from hiddenstruct.nn import apply_mask
    from hiddenstruct.nn.rnn import MaskedRNN

    torch.manual_seed(0)
    model = MaskedRNN(5, [16], mode)
    layer, gen = model.layers[0], torch.Generator().manual_seed(1)
    for name, limit in zip(("weight_ih", "weight_hh"), rnn_native.SPARSE_DENSITY, strict=True):
        density = limit / 2  # sparse enough for sparse products
        shape = getattr(layer, name).shape
        apply_mask(layer, name, (torch.rand(shape, generator=gen) < density).float())
    assert rnn_native.sparse_structure(layer_masks(model.layers)) is not None
    return model


def test_dense_gradients_of_masked_weights_see_off_the_mask():
    """RigL's and sparse momentum's dL/d(W ⊙ M) off the mask: sparse products would return
    zeros there, so these run dense (equal to HIDDENSTRUCT_SPARSE=0)."""
    from hiddenstruct.sparse_training.gradients import DenseGradientRecorder, dense_gradients
    from hiddenstruct.sparse_training.layers import sparse_layers

    model = _sparse_rnn()
    layers = sparse_layers(model)
    x = torch.randn(4, 6, 5, generator=torch.Generator().manual_seed(2))

    def loss(out, _):
        return out[0].sin().sum()

    grads = dense_gradients(model, layers, [x], None, loss)
    for layer, g in zip(layers, grads, strict=True):
        assert torch.count_nonzero(g[layer.mask == 0]) > 0
    with DenseGradientRecorder(layers) as recorder:
        assert rnn_native.sparse_structure(layer_masks(model.layers)) is None
        loss(model(x), None).backward()
        recorded = recorder.take()
    assert rnn_native.sparse_structure(layer_masks(model.layers)) is not None
    for got, want in zip(recorded, grads, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_masks_made_in_inference_mode_run():
    """Inference tensors have no version counter: their structure is not cached."""
    x = torch.randn(3, 4, 5)
    want = _sparse_rnn().encode(x)
    with torch.inference_mode():
        model = _sparse_rnn()
        got = model.encode(x)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_very_large_masks_run_dense():
    mask = torch.zeros(4096, 1024)
    mask[:, :160] = 1.0  # 16 %, but 655 360 entries
    assert rnn_native.sparse_structure([(mask, None)]) is None
