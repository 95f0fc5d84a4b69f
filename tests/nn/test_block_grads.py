"""``W_hh`` masks in diagonal blocks (the packed priors model: one block per graph): the
engine computes that weight's gradient only in the blocks; the stack's function is then that
of ``W_hh ⊙ mask``, as on sparse products."""

from __future__ import annotations

import pytest
import torch

from hiddenstruct.graphs.generators import sample_prior_graphs
from hiddenstruct.nn import rnn_native
from hiddenstruct.nn.packed import PackedGraphClassifier, graph_classifier
from hiddenstruct.nn.rnn import MODES, layer_masks
from hiddenstruct.nn.rnn_native import MaskBlocks, diagonal_blocks, run_stack, usable
from hiddenstruct.nn.varlen import Wiring, torch_stack
from hiddenstruct.testing import random_stack

ALL_MODES = list(MODES)


def _block_mask(gates: int, sizes: list[int], gen: torch.Generator, density: float = 0.7):
    """A random [gates H, H] mask inside diagonal blocks of ``sizes`` units."""
    hidden = sum(sizes)
    inside = torch.zeros(hidden, hidden, dtype=torch.bool)
    start = 0
    for size in sizes:
        inside[start : start + size, start : start + size] = True
        start += size
    keep = torch.rand(gates, hidden, hidden, generator=gen) < density
    return (keep & inside).reshape(gates * hidden, hidden).double()


def test_diagonal_blocks_are_the_finest_ones():
    mask = torch.zeros(6, 6)  # one gate, units 0..5
    mask[0, 1] = mask[1, 0] = 1  # block {0, 1}
    mask[3, 2] = 1  # block {2, 3}
    mask[4, 4] = 1  # {4}; unit 5 alone and unconnected
    blocks = diagonal_blocks(mask)
    assert blocks.bounds.tolist() == [4, 0, 2, 4, 5, 6]
    assert blocks.share == pytest.approx((4 + 4 + 1 + 1) / 36)
    assert diagonal_blocks(mask) is blocks  # cached
    mask[5, 0] = 1  # unit 5 reaches unit 0: everything between joins one block
    assert diagonal_blocks(mask).bounds.tolist() == [1, 0, 6]
    gates = torch.zeros(3 * 4, 4)  # three gates: a link in any gate joins its units
    gates[2 * 4 + 3, 2] = 1
    assert diagonal_blocks(gates).bounds.tolist() == [3, 0, 1, 2, 4]
    assert diagonal_blocks(torch.ones(5, 3)) is None  # not [G H, H]


def test_blocks_are_chosen_for_dense_recurrent_weights_only():
    gen = torch.Generator().manual_seed(0)
    blocked = _block_mask(3, [5, 5, 5, 5], gen, density=1.0)  # share 1/4, density 1/4
    full = torch.ones(3 * 20, 20)
    found = rnn_native.sparse_structure([(None, blocked), (None, full)])
    assert isinstance(found[0][1], MaskBlocks) and found[1] == (None, None)
    assert isinstance(
        rnn_native.sparse_structure([(None, blocked)], force=True)[0][1], rnn_native.MaskStructure
    )
    with rnn_native.dense_products():  # RigL's dense gradients need every entry
        assert rnn_native.sparse_structure([(None, blocked)]) is None
    one = _block_mask(3, [20], gen, density=1.0)
    assert rnn_native.sparse_structure([(None, one)]) is None  # a single block: dense


needs_native = pytest.mark.skipif(
    not usable(torch.zeros(1)), reason="no C++ compiler: the native kernels are not built"
)


@needs_native
@pytest.mark.parametrize("mode", ALL_MODES)
def test_block_gradients_compute_the_stack_of_the_masked_weights(mode):
    """Raw weights, W_hh masks in blocks (dense products, gradients in the blocks): the
    function is the stack of ``W ⊙ mask`` (against PyTorch's kernels on the masked weights),
    and gradcheck / gradgradcheck hold for it."""
    gen = torch.Generator().manual_seed(4)
    sizes, features = [6, 4], 3
    gates = MODES[mode].gates
    weights, rand = random_stack(mode, sizes, features, True, gen)
    masks = [(None, _block_mask(gates, [2, 2, 2], gen)), (None, _block_mask(gates, [1, 1, 2], gen))]
    structure = rnn_native.sparse_structure(masks)
    assert all(isinstance(hh, MaskBlocks) for _, hh in structure)
    wiring = Wiring.dag(MODES[mode], sizes, all_layers=True)
    x, lengths = rand(3, 4, features), torch.tensor([4, 2, 3])

    def fn(x, *flat):
        result = run_stack(wiring, x, lengths, flat, outputs=True, masks=masks)
        return (result.outputs, result.final) + ((result.final_c,) if MODES[mode].has_cell else ())

    masked = list(weights)
    for layer, (_, hh) in enumerate(masks):
        masked[4 * layer + 1] = weights[4 * layer + 1] * hh
    want = torch_stack(wiring, x, lengths, masked, outputs=True)
    for got, expected in zip(fn(x, *weights), want, strict=False):
        torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
    assert torch.autograd.gradcheck(fn, (x, *weights), atol=1e-6)
    assert torch.autograd.gradgradcheck(fn, (x, *weights), atol=1e-5)


@needs_native
@pytest.mark.parametrize("mode", ["GRU", "LSTM"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_packed_model_gradients_with_and_without_blocks(mode, dtype, monkeypatch):
    """A pack of prior graphs: every parameter's gradient is the same with W_hh's gradient
    computed in the graphs' blocks and as a whole product."""
    graphs = sample_prior_graphs("ws", 2, seed=1) + sample_prior_graphs("ba", 2, seed=2)
    models = [graph_classifier(G, mode, seed=i) for i, G in enumerate(graphs)]
    packed = PackedGraphClassifier.from_models(models).to(dtype)
    structure = rnn_native.sparse_structure(layer_masks(packed.layers))
    assert any(isinstance(hh, MaskBlocks) for _, hh in structure)
    gen = torch.Generator().manual_seed(0)
    codes = torch.randint(1, 100, (6, 9), generator=gen)
    lengths = torch.tensor([9, 4, 1, 9, 6, 2])
    results = []
    for share in (rnn_native.BLOCK_SHARE, -1.0):
        monkeypatch.setattr(rnn_native, "BLOCK_SHARE", share)
        packed.zero_grad()
        packed(codes, lengths).square().sum().backward()
        results.append([p.grad.clone() for p in packed.parameters()])
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)
