"""The C++ recurrent stack kernels: packing plan, building and caching.

Their numerics against PyTorch's kernels are in ``test_rnn_stack.py``, which runs every
test on both engines."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from hiddenstruct.nn import rnn_native

LIB = rnn_native.library()
needs_lib = pytest.mark.skipif(LIB is None, reason="no C++ compiler: native kernels not built")


@needs_lib
@pytest.mark.parametrize("seed", range(5))
def test_pack_plan_matches_pack_padded_sequence(seed):
    gen = torch.Generator().manual_seed(seed)
    batch, steps = 7, 9
    lengths = torch.randint(1, steps + 1, (batch,), generator=gen)
    x = torch.randn(batch, steps, 3, generator=gen)
    sizes, index, rows = rnn_native.pack_plan(LIB, lengths, steps)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    assert sizes.tolist() == packed.batch_sizes.tolist()
    ours = x.reshape(batch * steps, 3)[index]
    assert len(index) == int(lengths.sum()) and len(set(index.tolist())) == len(index)
    # each sequence keeps one position in every step it runs (what the recurrence needs)
    start = 0
    for t, size in enumerate(sizes.tolist()):
        step = index[start : start + size]
        assert (step % steps == t).all()
        assert ((step // steps) == index[:size] // steps).all()
        assert (lengths[step // steps] > t).all()
        start += size
    torch.testing.assert_close(ours[rows], x[torch.arange(batch), lengths - 1])


@needs_lib
@pytest.mark.parametrize("lengths", [[0, 3], [4, 6], [-1, 2]])
def test_pack_plan_rejects_lengths_out_of_range(lengths):
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 5\]"):
        rnn_native.pack_plan(LIB, torch.tensor(lengths), 5)


@needs_lib
def test_usable_only_for_cpu_float_inputs_and_when_enabled(monkeypatch):
    assert rnn_native.usable(torch.zeros(1, dtype=torch.float32))
    assert rnn_native.usable(torch.zeros(1, dtype=torch.float64))
    assert not rnn_native.usable(torch.zeros(1, dtype=torch.bfloat16))
    assert not rnn_native.usable(torch.zeros(1, device="meta"))
    monkeypatch.setenv(rnn_native.ENV_SWITCH, "0")
    assert not rnn_native.usable(torch.zeros(1))


@needs_lib  # where PyTorch exports no BLAS symbols, nothing is built at all
def test_failed_build_warns_and_falls_back(monkeypatch, tmp_path):
    monkeypatch.setenv(rnn_native.ENV_CACHE, str(tmp_path))
    monkeypatch.setenv("CXX", "false")  # a "compiler" that always fails
    with pytest.warns(RuntimeWarning, match="could not build the native recurrent kernels"):
        assert rnn_native.library.__wrapped__() is None
    assert list(tmp_path.iterdir()) == []  # nothing half-written


@needs_lib
def test_unwritable_cache_warns_and_falls_back(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(rnn_native.ENV_CACHE, str(blocker / "cache"))  # parent is a file
    with pytest.warns(RuntimeWarning, match=rnn_native.ENV_CACHE):
        assert rnn_native.library.__wrapped__() is None


def test_missing_compiler_means_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv(rnn_native.ENV_CACHE, str(tmp_path))
    monkeypatch.setenv("CXX", "no-such-compiler-hiddenstruct")
    assert rnn_native.library.__wrapped__() is None


@needs_lib
def test_build_is_cached_per_source_and_cpu(monkeypatch, tmp_path):
    monkeypatch.setenv(rnn_native.ENV_CACHE, str(tmp_path))
    assert rnn_native.library.__wrapped__() is not None
    built = list(tmp_path.iterdir())
    assert len(built) == 1 and built[0].name.startswith("rnn_native-")

    def no_rebuild(*args):
        raise AssertionError("rebuilt although the cached library matches")

    monkeypatch.setattr(rnn_native, "build", no_rebuild)
    assert rnn_native.library.__wrapped__() is not None


@needs_lib
def test_mismatched_weights_raise_before_any_native_call():
    x, lengths = torch.randn(2, 3, 4), torch.tensor([3, 1])
    wiring = rnn_native.Wiring.chain("gru", [2])
    good = [torch.randn(6, 4), torch.randn(6, 2), torch.randn(6), torch.randn(6)]
    assert rnn_native.final_hidden(wiring, x, lengths, good).shape == (2, 2)
    for i, bad in enumerate(
        [torch.randn(6, 5), torch.randn(6, 3), torch.randn(5), torch.randn(6, dtype=torch.float64)]
    ):
        weights = list(good)
        weights[i] = bad
        with pytest.raises(ValueError, match=r"layer 0 (w_ih|w_hh|b_ih|b_hh): expected"):
            rnn_native.final_hidden(wiring, x, lengths, weights)
    with pytest.raises(ValueError, match="per layer"):
        rnn_native.final_hidden(wiring, x, lengths, good[:3])


def test_wirings():
    chain = rnn_native.Wiring.chain("gru", [3, 4, 5])
    assert chain.in_begin == (0, 0, 3) and chain.out_begin == 7
    assert [chain.input_width(layer, 16) for layer in range(3)] == [16, 3, 4]
    dag = rnn_native.Wiring.dag("lstm", [3, 4, 5])
    assert dag.in_begin == (0, 0, 0) and dag.out_begin == 7
    assert [dag.input_width(layer, 16) for layer in range(3)] == [16, 3, 7]
    assert rnn_native.Wiring.dag("lstm", [3, 4, 5], all_layers=True).out_begin == 0


@needs_lib
@pytest.mark.parametrize("mode", ["GRU", "LSTM"])
def test_dag_double_backward_equals_pytorch_kernels(mode, monkeypatch):
    """A double backward through a DAG-wired stack (GraphRNN, all layers' final states)
    recomputes on PyTorch's kernels; it must equal the fallback's own double backward."""
    import networkx as nx

    from hiddenstruct.nn import GraphRNN

    torch.manual_seed(0)
    net = GraphRNN(nx.gnp_random_graph(7, 0.5, seed=3), input_size=3, mode=mode).double()
    x = torch.randn(3, 5, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 4])
    results = []
    for switch in ("1", "0"):
        monkeypatch.setenv(rnn_native.ENV_SWITCH, switch)
        finals = torch.cat(net.layer_states(x, lengths), dim=1)
        params = list(net.parameters())
        grads = torch.autograd.grad((finals * finals.sin()).sum(), params, create_graph=True)
        second = torch.autograd.grad(sum(g.sum() for g in grads), params, allow_unused=True)
        results.append([finals, *grads, *(s for s in second if s is not None)])
    assert len(results[0]) == len(results[1])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
