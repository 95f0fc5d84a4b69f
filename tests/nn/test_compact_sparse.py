"""compact() and to_sparse(): smaller / CSR models with the same outputs."""

from __future__ import annotations

import copy

import networkx as nx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs import to_graph
from hiddenstruct.nn import GraphNet, MaskedDeepFFN, apply_mask, compact, masks, to_sparse


def _random_masks(model: torch.nn.Module, keep: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for name, mask in masks(model).items():
        module_name, _, tensor = name.rpartition(".")
        module = model.get_submodule(module_name)
        apply_mask(module, tensor, (torch.rand(mask.shape, generator=g) < keep).float())


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    keep=st.floats(0.02, 0.6),
    activation=st.sampled_from(["relu", "tanh", "sigmoid", "elu"]),
    sizes=st.lists(st.integers(1, 12), min_size=1, max_size=4),
)
def test_compact_ffn_same_outputs_and_no_dead_neurons(seed, keep, activation, sizes):
    torch.manual_seed(seed)
    model = MaskedDeepFFN(9, 3, sizes, activation=activation)
    _random_masks(model, keep, seed)
    small = compact(model)
    x = torch.randn(6, 9)
    assert torch.allclose(small(x), model(x), atol=1e-5)
    assert all(a <= b for a, b in zip(small.hidden_sizes, sizes, strict=True))
    if sum(small.hidden_sizes) > len(sizes):  # not the degenerate all-dead case
        weights = [layer.weight for layer in small.layers]
        for k in range(len(sizes)):
            assert torch.all((weights[k] != 0).any(dim=1)), "neuron without live input kept"
            assert torch.all((weights[k + 1] != 0).any(dim=0)), "neuron without live output kept"
    assert torch.allclose(to_sparse(small)(x), model(x), atol=1e-5)


def test_compact_ffn_folds_constant_neuron_into_next_bias():
    torch.manual_seed(0)
    model = MaskedDeepFFN(4, 2, [3, 2], activation="sigmoid")
    mask0 = torch.ones(3, 4)
    mask0[1] = 0  # neuron 1 of layer 0 has no input: it outputs sigmoid(b) forever
    apply_mask(model.layers[0], "weight", mask0)
    small = compact(model)
    assert small.hidden_sizes == (2, 2)
    x = torch.randn(5, 4)
    assert torch.allclose(small(x), model(x), atol=1e-6)
    assert not torch.allclose(small.layers[1].bias, model.layers[1].bias)


def test_compact_ffn_keeps_masks_and_state_is_trainable():
    torch.manual_seed(0)
    model = MaskedDeepFFN(6, 2, [8, 8])
    _random_masks(model, 0.3, seed=1)
    small = compact(model)
    assert set(masks(small)) == set(masks(model))
    small(torch.randn(3, 6)).sum().backward()
    for layer in small.layers:
        grad = layer.parametrizations.weight.original.grad
        assert torch.all(grad[layer.parametrizations.weight[0].mask == 0] == 0)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("readout", ["last_layer", "sinks"])
def test_compact_graphnet_same_outputs(seed, readout):
    torch.manual_seed(seed)
    G = nx.gnp_random_graph(40, 0.12, seed=seed)
    net = GraphNet(G, 5, 3, readout=readout, activation=["relu", "tanh", "sigmoid"][seed % 3])
    _random_masks(net, 0.4, seed)
    small = compact(net)
    x = torch.randn(7, 5)
    assert torch.allclose(small(x), net(x), atol=1e-5)
    assert len(small.vertices) <= len(net.vertices)
    H = to_graph(small, include_io=True)
    hidden = [v for v in H if H.nodes[v]["role"] == "hidden"]
    if small.edges.weight.numel() or len(hidden) > 1:
        assert all(H.in_degree(v) > 0 and H.out_degree(v) > 0 for v in hidden)
    assert torch.allclose(to_sparse(small)(x), net(x), atol=1e-5)
    assert torch.allclose(to_sparse(net)(x), net(x), atol=1e-5)


def test_compact_graphnet_removes_a_dead_branch():
    torch.manual_seed(0)
    G = nx.DiGraph([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    net = GraphNet(G, 3, 2, activation="tanh")
    edges = net.edge_list()
    mask = torch.tensor([0.0 if e == ("c", "d") else 1.0 for e in edges])
    apply_mask(net.edges, "weight", mask)
    small = compact(net)
    assert set(small.vertices) == {"a", "b", "d"}
    x = torch.randn(4, 3)
    assert torch.allclose(small(x), net(x), atol=1e-6)


def test_compact_all_dead_gives_constant_model():
    torch.manual_seed(0)
    net = GraphNet(nx.path_graph(4), 3, 2)
    apply_mask(net.edges, "weight", torch.tensor([1.0, 0.0, 1.0]))
    small = compact(net)
    x = torch.randn(5, 3)
    assert torch.allclose(small(x), net(x), atol=1e-6)
    assert torch.allclose(small(x), small(x[:1]).expand(5, -1))


@pytest.mark.parametrize("batch", [1, 16])
def test_to_sparse_ffn_same_outputs_with_layer_norm(batch):
    torch.manual_seed(0)
    model = MaskedDeepFFN((1, 4, 4), 3, [10, 7], activation="tanh", layer_norm=True)
    _random_masks(model, 0.2, seed=3)
    sparse = to_sparse(model)
    x = torch.randn(batch, 1, 4, 4)
    assert torch.allclose(sparse(x), model(x), atol=1e-5)
    assert sparse.nonzeros() == sum(int(torch.count_nonzero(w)) for w in model.effective_weights())
    with pytest.raises(UsageError, match="layer_norm"):
        compact(model)


def test_unsupported_models_are_rejected():
    with pytest.raises(UsageError, match="supported"):
        compact(torch.nn.Linear(2, 2))
    with pytest.raises(UsageError, match="supported"):
        to_sparse(torch.nn.Linear(2, 2))


def test_to_sparse_uses_csr_for_large_sparse_layers_and_dense_for_small():
    torch.manual_seed(0)
    model = MaskedDeepFFN(200, 5, [100, 8])
    _random_masks(model, 0.05, seed=4)
    sparse = to_sparse(model)
    layouts = [sparse._buffers[w].layout for _, w in sparse.buffer_names]
    assert layouts == [torch.sparse_csr, torch.strided, torch.strided]
    for batch in (1, 33):
        x = torch.randn(batch, 200)
        assert torch.allclose(sparse(x), model(x), atol=1e-5)


def test_sparse_graphnet_with_csr_blocks():
    torch.manual_seed(0)
    rng = torch.Generator().manual_seed(5)
    edges = torch.nonzero(torch.rand(150, 80, generator=rng) < 0.1).tolist()
    G = nx.DiGraph((f"s{a}", f"t{b}") for a, b in edges)
    net = GraphNet(G, 4, 3, activation="tanh", readout="sinks")
    sparse = to_sparse(net)
    assert any(sparse._buffers[name].layout == torch.sparse_csr for name in sparse.block_names)
    x = torch.randn(9, 4)
    assert torch.allclose(sparse(x), net(x), atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_models_match_cpu():
    torch.manual_seed(0)
    G = nx.gnp_random_graph(60, 0.1, seed=1)
    for model in (MaskedDeepFFN(12, 3, [40, 20]), GraphNet(G, 12, 3, readout="sinks")):
        _random_masks(model, 0.3, seed=2)
        x = torch.randn(5, 12)
        expected = model(x)
        gpu = model.to("cuda")
        xg = x.to("cuda")
        assert torch.allclose(gpu(xg).cpu(), expected, atol=1e-4)
        assert torch.allclose(compact(gpu)(xg).cpu(), expected, atol=1e-4)
        assert torch.allclose(to_sparse(compact(gpu))(xg).cpu(), expected, atol=1e-4)
        gpu(xg).sum().backward()
        assert to_graph(gpu).number_of_edges() == to_graph(model.cpu()).number_of_edges()


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "identity"])
# 1: dot products; 5: the plain loop only; 13 and 75: register blocks of 8 and 64 floats
# (4 and 32 doubles) with a plain tail (see csr_row in native.cpp).
@pytest.mark.parametrize("batch", [1, 5, 13, 75])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_native_csr_chain_equals_the_per_layer_path(activation, batch, dtype, engine):
    torch.manual_seed(3)
    model = MaskedDeepFFN(60, 4, [80, 30], activation=activation).to(dtype)
    for layer in model.layers:
        apply_mask(layer, "weight", (torch.rand_like(layer.weight) < 0.1).to(dtype))
    fast = to_sparse(compact(model))
    x = torch.randn(batch, 60, dtype=dtype)
    with torch.no_grad():
        got, want = fast(x), model(x)
    torch.testing.assert_close(got, want, atol=1e-5 if dtype == torch.float32 else 1e-12, rtol=0)
    assert (fast.__dict__.get("_chain") is not None) == (engine != "pytorch")
    copied = copy.deepcopy(fast)  # a copy rebuilds its own operands, never shares pointers
    assert copied.__dict__.get("_chain") is None
    torch.testing.assert_close(copied(x), got, atol=0, rtol=0)
    del fast
    torch.testing.assert_close(copied(x), got, atol=0, rtol=0)


@pytest.mark.parametrize(("features", "batch", "outputs"), [(9, 17, 13), (16, 8, 8), (7, 70, 9)])
def test_native_csr_chain_transposes_every_block_and_edge(features, batch, outputs, engine):
    # the chain transposes the input [B, F] and its output [O, B] in 8 x 8 register blocks
    # plus edge strips; sizes around multiples of 8 reach every part
    torch.manual_seed(features + batch + outputs)
    model = MaskedDeepFFN(features, outputs, [12])
    for layer in model.layers:
        apply_mask(layer, "weight", (torch.rand_like(layer.weight) < 0.5).float())
    fast = to_sparse(compact(model))
    x = torch.randn(batch, features)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), atol=1e-5, rtol=0)
    assert (fast.__dict__.get("_chain") is not None) == (engine != "pytorch")
