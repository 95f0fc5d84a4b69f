"""MaskedRNN against the per-time-step reference cells (hiddenstruct.testing), masks, state, copies."""

from __future__ import annotations

import copy
import io

import networkx as nx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenstruct.nn import apply_mask, get_mask, load_state_dict, masks
from hiddenstruct.nn.classifier import SequenceClassifier
from hiddenstruct.nn.rnn import MODES, MaskedRNN, get_mode, hidden_of
from hiddenstruct.testing import reference_stack

ALL_MODES = ["RNN_TANH", "RNN_RELU", "GRU", "LSTM"]


# ---------------------------------------------------------------- reference implementation
def reference_forward(model: MaskedRNN, x, lengths, hx=None):
    """The per-step reference cells of :mod:`hiddenstruct.testing` on the model's masked weights."""
    return reference_stack(model.mode, [layer.weights() for layer in model.layers], x, lengths, hx)


def random_masks(model: MaskedRNN, fraction: float, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    for layer in model.layers:
        for name in ("weight_ih", "weight_hh"):
            shape = get_mask(layer, name).shape
            apply_mask(layer, name, (torch.rand(shape, generator=gen) < fraction).float())


def assert_states_close(a, b, atol=1e-5):
    if isinstance(a, tuple):
        for u, v in zip(a, b, strict=True):
            torch.testing.assert_close(u, v, atol=atol, rtol=0)
    else:
        torch.testing.assert_close(a, b, atol=atol, rtol=0)


# ---------------------------------------------------------------- equivalence
@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("variable", [False, True])
@pytest.mark.parametrize("initial", [False, True])
def test_matches_reference_cell(mode, masked, variable, initial, engine):
    torch.manual_seed(1)
    model = MaskedRNN(6, [9, 5, 7], mode)
    if masked:
        random_masks(model, 0.5, seed=3)
    x = torch.randn(5, 8, 6)
    lengths = torch.tensor([8, 3, 5, 1, 7]) if variable else torch.full((5,), 8)
    hx = None
    if initial:
        hx = [layer.zero_state(5, x) for layer in model.layers]
        hx = [
            tuple(torch.randn_like(t) for t in s) if isinstance(s, tuple) else torch.randn_like(s)
            for s in hx
        ]
    with torch.no_grad():
        out, states = model(x, lengths if variable else None, hx)
        ref_out, ref_states = reference_forward(model, x, lengths, hx)
    assert out.shape == (5, 8, 7)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=0)
    assert len(states) == 3
    for s, r in zip(states, ref_states, strict=True):
        assert_states_close(s, r)


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("batch_first", [True, False])
def test_encode_equals_reference_final_hidden(mode, batch_first, engine):
    torch.manual_seed(14)
    model = MaskedRNN(5, [6, 4], mode, batch_first=batch_first)
    random_masks(model, 0.6, seed=5)
    x = torch.randn(6, 9, 5)
    lengths = torch.tensor([9, 1, 4, 7, 2, 9])
    _, ref_states = reference_forward(model, x, lengths)
    encoded = model.encode(x if batch_first else x.transpose(0, 1), lengths)
    torch.testing.assert_close(encoded, hidden_of(ref_states[-1]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("mode", ["GRU", "LSTM"])
@pytest.mark.parametrize("fused_cpu", [None, False])  # the engine / PyTorch's kernels
def test_encode_gradients_equal_packed_path(mode, fused_cpu):
    torch.manual_seed(15)
    model = MaskedRNN(4, [5, 3], mode, fused_cpu=fused_cpu)
    random_masks(model, 0.5, seed=6)
    x = torch.randn(7, 8, 4, requires_grad=True)
    lengths = torch.tensor([8, 1, 2, 8, 3, 2, 1])
    grads = []
    for fn in (lambda: model.encode(x, lengths), lambda: hidden_of(model(x, lengths)[1][-1])):
        (fn() * torch.arange(1.0, 4.0)).sum().backward()
        grads.append([x.grad.clone()] + [p.grad.clone() for p in model.parameters()])
        model.zero_grad()
        x.grad = None
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_padded_steps_are_zero_and_padding_values_ignored(mode):
    torch.manual_seed(2)
    model = MaskedRNN(3, [4, 4], mode)
    x = torch.randn(3, 6, 3)
    lengths = torch.tensor([2, 6, 4])
    out, states = model(x, lengths)
    x_noise = x.clone()
    for b, n in enumerate(lengths.tolist()):
        x_noise[b, n:] = 100.0
    out2, states2 = model(x_noise, lengths)
    torch.testing.assert_close(out, out2)
    for s, s2 in zip(states, states2, strict=True):
        assert_states_close(s, s2, atol=0)
    for b, n in enumerate(lengths.tolist()):
        assert torch.all(out[b, n:] == 0)
        # The final state is the output at the true last step.
        torch.testing.assert_close(hidden_of(states[-1])[b], out[b, n - 1])


@pytest.mark.parametrize("mode", ["GRU", "LSTM"])
def test_initial_state_is_used(mode, engine):
    torch.manual_seed(3)
    model = MaskedRNN(3, [4, 2], mode)
    x = torch.randn(2, 5, 3)
    lengths = torch.tensor([5, 2])
    hx = [layer.zero_state(2, x) for layer in model.layers]
    hx = [
        tuple(torch.randn_like(t) for t in s) if isinstance(s, tuple) else torch.randn_like(s)
        for s in hx
    ]
    out_a, _ = model(x, lengths, hx=hx)
    out_b, _ = model(x, None, hx=hx)
    out_0, _ = model(x, lengths)
    # With an explicit state, packed and unpacked paths agree on the full-length sequence.
    torch.testing.assert_close(out_a[0], out_b[0], atol=1e-6, rtol=0)
    assert not torch.allclose(out_a, out_0)


def test_batch_first_false_layout():
    torch.manual_seed(4)
    model = MaskedRNN(3, [4], "GRU", batch_first=False)
    x = torch.randn(6, 2, 3)  # [T, B, F]
    out, states = model(x, torch.tensor([6, 3]))
    assert out.shape == (6, 2, 4)
    torch.testing.assert_close(states[0][1], out[2, 1])


# ---------------------------------------------------------------- masks and gradients
@pytest.mark.parametrize("mode", ALL_MODES)
def test_masked_weights_get_zero_grad(mode):
    torch.manual_seed(5)
    model = MaskedRNN(4, [6, 6], mode)
    random_masks(model, 0.4, seed=7)
    x = torch.randn(3, 5, 4)
    out, _ = model(x, torch.tensor([5, 2, 4]))
    out.pow(2).sum().backward()
    for layer in model.layers:
        for name in ("weight_ih", "weight_hh"):
            param = layer.parametrizations[name].original
            mask = get_mask(layer, name)
            assert param.grad is not None
            assert torch.all(param.grad[mask == 0] == 0)
            assert torch.any(param.grad[mask == 1] != 0)


def test_mask_names_and_shapes_follow_convention():
    model = MaskedRNN(3, [5, 2], "LSTM")
    found = masks(model)
    assert set(found) == {f"layers.{i}.{n}" for i in range(2) for n in ("weight_ih", "weight_hh")}
    assert found["layers.0.weight_ih"].shape == (20, 3)
    assert found["layers.1.weight_ih"].shape == (8, 5)
    assert found["layers.1.weight_hh"].shape == (8, 2)
    assert all(bool(m.all()) for m in found.values())  # all-ones at construction


def test_fully_masked_i2h_ignores_input():
    torch.manual_seed(6)
    model = MaskedRNN(3, [4], "RNN_TANH")
    apply_mask(model.layers[0], "weight_ih", torch.zeros(4, 3))
    a, _ = model(torch.randn(2, 5, 3))
    b, _ = model(torch.randn(2, 5, 3))
    torch.testing.assert_close(a, b)


def test_init_bounds_like_pytorch():
    torch.manual_seed(7)
    model = MaskedRNN(10, [25, 100], "GRU")
    for layer in model.layers:
        bound = 1 / layer.hidden_size**0.5
        for p in layer.parameters():
            assert float(p.detach().abs().max()) <= bound
            assert float(p.detach().abs().max()) > 0.8 * bound


def test_optimizer_created_before_masking_keeps_working():
    torch.manual_seed(8)
    model = MaskedRNN(3, [4], "LSTM")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    random_masks(model, 0.5, seed=1)
    before = model.layers[0].parametrizations.weight_ih.original.detach().clone()
    out, _ = model(torch.randn(2, 4, 3))
    out.sum().backward()
    opt.step()
    after = model.layers[0].parametrizations.weight_ih.original.detach()
    mask = get_mask(model.layers[0], "weight_ih")
    assert torch.equal(after[mask == 0], before[mask == 0])
    assert not torch.equal(after[mask == 1], before[mask == 1])


# ---------------------------------------------------------------- persistence
@pytest.mark.parametrize("mode", ["RNN_RELU", "LSTM"])
def test_state_dict_round_trip_into_fresh_model(mode):
    torch.manual_seed(9)
    model = MaskedRNN(4, [6, 3], mode)
    random_masks(model, 0.5, seed=2)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    fresh = MaskedRNN(4, [6, 3], mode)
    load_state_dict(fresh, torch.load(buf))
    x = torch.randn(3, 5, 4)
    lengths = torch.tensor([5, 1, 3])
    torch.testing.assert_close(fresh(x, lengths)[0], model(x, lengths)[0], atol=0, rtol=0)
    for key, mask in masks(model).items():
        assert torch.equal(masks(fresh)[key], mask)


def test_deepcopy_is_independent():
    torch.manual_seed(10)
    model = MaskedRNN(4, [5], "GRU")
    random_masks(model, 0.5, seed=4)
    clone = copy.deepcopy(model)
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(clone(x)[0], model(x)[0], atol=0, rtol=0)
    apply_mask(clone.layers[0], "weight_hh", torch.zeros(15, 5))
    assert bool(get_mask(model.layers[0], "weight_hh").any())
    assert not torch.allclose(clone(x)[0], model(x)[0])


# ---------------------------------------------------------------- errors and structure
def test_mode_registry_is_case_insensitive_and_lists_valid_modes():
    assert get_mode("lstm") is MODES["LSTM"]
    assert MaskedRNN(2, [3], "Rnn_Relu").mode == "RNN_RELU"
    with pytest.raises(ValueError, match="RNN_TANH, RNN_RELU, LSTM, GRU"):
        MaskedRNN(2, [3], "transformer")


def test_bad_inputs_raise_value_errors():
    model = MaskedRNN(2, [3], "GRU")
    with pytest.raises(ValueError, match="shape"):
        model(torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match="lengths"):
        model(torch.randn(2, 4, 2), torch.tensor([4, 0]))
    with pytest.raises(ValueError, match="lengths"):
        model(torch.randn(2, 4, 2), torch.tensor([4, 5]))
    with pytest.raises(ValueError, match="hidden_sizes"):
        MaskedRNN(2, [], "GRU")


@pytest.mark.parametrize("fused_cpu", [None, False])  # the engine / PyTorch's kernels
@pytest.mark.parametrize("mode", ["GRU", "LSTM"])
def test_encode_rejects_bad_inputs_on_every_path(mode, fused_cpu):
    model = MaskedRNN(2, [3], mode, fused_cpu=fused_cpu)
    with pytest.raises(ValueError, match="shape"):
        model.encode(torch.randn(2, 4, 5), torch.tensor([4, 2]))
    with pytest.raises(ValueError, match="shape"):
        model.encode(torch.randn(2, 4))
    with pytest.raises(ValueError, match="lengths"):
        model.encode(torch.randn(2, 4, 2), torch.tensor([4, 0]))


def test_structure_graph_counts_live_connections():
    torch.manual_seed(11)
    model = MaskedRNN(3, [4, 5, 2], "LSTM")
    G = model.structure_graph(include_io=False)
    assert G.number_of_nodes() == 11
    assert G.number_of_edges() == 4 * 5 + 5 * 2
    assert {d["layer"] for _, d in G.nodes(data=True)} == {0, 1, 2}
    # Mask out gates selectively: an edge survives while ANY gate keeps the connection.
    mask = torch.ones(4 * 5, 4)
    mask[:, 0] = 0  # neuron 0 of layer 0 feeds nothing
    mask[5:, 1] = 0  # neuron 1 feeds only through the input gate
    apply_mask(model.layers[1], "weight_ih", mask)
    G = model.structure_graph(include_io=False)
    assert G.number_of_edges() == 3 * 5 + 5 * 2
    assert G.out_degree(0) == 0 and G.out_degree(1) == 5
    Gio = model.structure_graph(include_io=True)
    assert Gio.number_of_edges() == G.number_of_edges() + 3 * 4
    assert all(Gio.nodes[("in", i)]["layer"] == -1 for i in range(3))
    assert all(d["role"] == "hidden" for n, d in G.nodes(data=True))
    assert [G.nodes[v]["unit"] for v in model.node_groups()[1]] == list(range(5))


# ---------------------------------------------------------------- sequence classifier
@pytest.mark.parametrize("mode", ALL_MODES)
def test_classifier_ignores_padding_and_matches_manual_pipeline(mode):
    torch.manual_seed(12)
    model = SequenceClassifier(MaskedRNN(6, [8, 5], mode), vocab_size=128, num_classes=3)
    codes = torch.randint(65, 90, (4, 7))
    lengths = torch.tensor([7, 3, 5, 1])
    for b, n in enumerate(lengths.tolist()):
        codes[b, n:] = 0
    logits = model(codes, lengths)
    assert logits.shape == (4, 3)
    embedded = model.embedding(codes)
    _, states = model.rnn(embedded, lengths)
    torch.testing.assert_close(logits, model.readout(hidden_of(states[-1])))
    # Whatever sits in the padded positions does not change the logits.
    noisy = codes.clone()
    for b, n in enumerate(lengths.tolist()):
        noisy[b, n:] = 77
    torch.testing.assert_close(model(noisy, lengths), logits, atol=0, rtol=0)
    assert torch.all(model.embedding.weight[0] == 0)  # padding_idx=0


def test_classifier_learns_a_simple_sequence_rule():
    """Label = whether the string contains 'X'; a few Adam steps must drive the loss down."""
    torch.manual_seed(13)
    gen = torch.Generator().manual_seed(0)
    codes = torch.randint(65, 70, (32, 5), generator=gen)  # 'A'..'E'
    labels = (torch.rand(32, generator=gen) < 0.5).long()
    position = torch.randint(0, 5, (32,), generator=gen)
    codes[labels == 1, position[labels == 1]] = ord("X")
    lengths = torch.full((32,), 5)
    model = SequenceClassifier(MaskedRNN(8, [12], "GRU"))
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(codes, lengths), labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_classifier_validates_its_parts():
    from hiddenstruct.nn.graphrnn import GraphRNN

    with pytest.raises(ValueError, match="embedding_dim"):
        SequenceClassifier(MaskedRNN(6, [4], "GRU"), embedding_dim=5)
    with pytest.raises(TypeError, match="recurrent encoder"):
        SequenceClassifier(torch.nn.Linear(3, 3))
    with pytest.raises(ValueError, match="readout"):
        SequenceClassifier(GraphRNN(nx.path_graph(3), 4, "GRU", output_size=2))
    with pytest.raises(ValueError, match="integer"):
        SequenceClassifier(MaskedRNN(6, [4], "GRU"))(torch.randn(2, 3))
    graph_model = SequenceClassifier(GraphRNN(nx.path_graph(3), 4, "LSTM"))
    assert graph_model(torch.tensor([[66, 69], [66, 0]]), torch.tensor([2, 1])).shape == (2, 2)
    assert set(graph_model.structure_graph(include_io=False).edges) == {(0, 1), (1, 2)}
    full = graph_model.structure_graph(include_io=True)
    assert full.number_of_edges() == 2 + 4 * 1 + 2 * 1  # inputs→0, 0→1→2, 2→outputs
    assert full.nodes[("out", 1)]["layer"] == 3 and full.has_edge(2, ("out", 0))


@settings(max_examples=15, deadline=None)
@given(
    mode=st.sampled_from(ALL_MODES),
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=5),
    keep=st.floats(0.0, 1.0),
    seed=st.integers(0, 1000),
)
def test_random_shapes_match_reference(mode, sizes, lengths, keep, seed):
    """On the default engine (the native one where built)."""
    torch.manual_seed(seed)
    model = MaskedRNN(3, sizes, mode)
    random_masks(model, keep, seed=seed)
    lengths = torch.tensor(lengths)
    x = torch.randn(len(lengths), int(lengths.max()), 3)
    with torch.no_grad():
        out, states = model(x, lengths)
        ref_out, ref_states = reference_forward(model, x, lengths)
        encoded = model.encode(x, lengths)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=0)
    for s, r in zip(states, ref_states, strict=True):
        assert_states_close(s, r)
    torch.testing.assert_close(encoded, hidden_of(ref_states[-1]), atol=1e-5, rtol=0)
