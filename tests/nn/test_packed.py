"""Packed training of many graph classifiers equals training each alone."""

from __future__ import annotations

import copy

import networkx as nx
import pytest
import torch
from torch import nn

from hiddenstruct.graphs import layers, to_dag
from hiddenstruct.nn.packed import ClassifierParts, PackedGraphClassifier
from hiddenstruct.training.packed import (
    clip_grad_norm_per_graph_,
    evaluate_packed,
    per_graph_grad_norms,
    train_packed,
)

pytestmark = pytest.mark.usefixtures("engine")  # C++ kernels and fallback

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def random_parts(
    graph: nx.Graph, mode: str, seed: int, classes: int = 2, vocab: int = 16
) -> ClassifierParts:
    """Tensors of a graph classifier laid out as GraphRNN does, with edge masks (test-only)."""
    gen = torch.Generator().manual_seed(seed)
    dag = to_dag(graph)
    groups = layers(dag)
    widths = [len(g) for g in groups]
    position = {v: (li, p) for li, g in enumerate(groups) for p, v in enumerate(g)}
    g = GATES[mode]
    out = []
    for li, n in enumerate(widths):
        fan_in = widths[0] if li == 0 else sum(widths[:li])
        mask = torch.ones(g * n, fan_in)
        if li > 0:
            mask.zero_()
            starts = [sum(widths[:s]) for s in range(li)]
            for u, v in dag.edges:
                (lu, pu), (lv, pv) = position[u], position[v]
                if lv == li:
                    for gate in range(g):
                        mask[gate * n + pv, starts[lu] + pu] = 1
        out.append(
            {
                "weight_ih": torch.rand(g * n, fan_in, generator=gen) - 0.5,
                "weight_hh": torch.rand(g * n, n, generator=gen) - 0.5,
                "bias_ih": torch.rand(g * n, generator=gen) - 0.5,
                "bias_hh": torch.rand(g * n, generator=gen) - 0.5,
                "mask_ih": mask,
                "mask_hh": torch.ones(g * n, n),
            }
        )
    embedding = torch.randn(vocab, widths[0], generator=gen)
    embedding[0] = 0
    return ClassifierParts(
        mode=mode,
        embedding=embedding,
        layers=out,
        readout_weight=torch.rand(classes, widths[-1], generator=gen) - 0.5,
        readout_bias=torch.zeros(classes),
    )


def small_graphs() -> list[nx.Graph]:
    return [
        nx.connected_watts_strogatz_graph(9, 4, 1.0, seed=1),
        nx.barabasi_albert_graph(7, 1, seed=2),
        nx.path_graph(3),
        nx.barabasi_albert_graph(11, 2, seed=3),
    ]


def batches(n_batches: int, batch: int, vocab: int, seed: int) -> list[tuple[torch.Tensor, ...]]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        lengths = torch.randint(1, 9, (batch,), generator=gen)
        codes = torch.randint(1, vocab, (batch, int(lengths.max())), generator=gen)
        codes[torch.arange(codes.shape[1])[None, :] >= lengths[:, None]] = 0
        out.append((codes, lengths, torch.randint(0, 2, (batch,), generator=gen)))
    return out


@pytest.mark.parametrize("mode", ["RNN_TANH", "RNN_RELU", "GRU", "LSTM"])
def test_packed_forward_equals_separate(mode):
    parts = [random_parts(G, mode, seed=i) for i, G in enumerate(small_graphs())]
    packed = PackedGraphClassifier(parts)
    codes, lengths, _ = batches(1, 6, 16, seed=0)[0]
    logits = packed(codes, lengths)
    assert logits.shape == (6, len(parts), 2)
    for k, part in enumerate(parts):
        alone = PackedGraphClassifier([part])
        torch.testing.assert_close(logits[:, k], alone(codes, lengths)[:, 0], atol=1e-6, rtol=1e-5)


def train_alone(model: nn.Module, data, steps_lr: float, clip: float | None) -> None:
    """The plain training loop of one model: Adam, mean cross-entropy, torch's norm clipping."""
    opt = torch.optim.Adam(model.parameters(), lr=steps_lr)
    for codes, lengths, target in data:
        logits = model(codes, lengths)[:, 0]
        loss = nn.functional.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()


def assert_parts_close(a: ClassifierParts, b: ClassifierParts, atol: float) -> None:
    torch.testing.assert_close(a.embedding, b.embedding, atol=atol, rtol=0)
    torch.testing.assert_close(a.readout_weight, b.readout_weight, atol=atol, rtol=0)
    torch.testing.assert_close(a.readout_bias, b.readout_bias, atol=atol, rtol=0)
    for la, lb in zip(a.layers, b.layers, strict=True):
        for name in la:
            torch.testing.assert_close(la[name], lb[name], atol=atol, rtol=0)


@pytest.mark.parametrize(
    "mode,clip", [("GRU", 0.05), ("LSTM", None), ("RNN_TANH", 5.0), ("RNN_RELU", 0.2)]
)
def test_packed_training_equals_separate_training(mode, clip):
    parts = [random_parts(G, mode, seed=10 + i) for i, G in enumerate(small_graphs())]
    data = batches(6, 8, 16, seed=1)
    packed = PackedGraphClassifier(copy.deepcopy(parts))
    train_packed(packed, data, epochs=1, lr=0.01, clip_grad_norm=clip)
    test_eval = evaluate_packed(packed, data)
    moved = 0.0
    for k, part in enumerate(parts):
        alone = PackedGraphClassifier([copy.deepcopy(part)])
        train_alone(alone, data, 0.01, clip)
        assert_parts_close(packed.parts(k), alone.parts(0), atol=1e-5)
        alone_eval = evaluate_packed(alone, data)[0]
        assert test_eval[k].accuracy == pytest.approx(alone_eval.accuracy, abs=1e-9)
        assert test_eval[k].loss == pytest.approx(alone_eval.loss, abs=1e-5)
        trained = packed.parts(k)
        moved += float((trained.readout_weight - part.readout_weight).abs().max())
        moved += float((trained.embedding - part.embedding).abs().max())
    assert moved > 1e-3  # training really changed the parameters


def test_cross_graph_entries_stay_masked_and_untouched():
    parts = [random_parts(G, "GRU", seed=i) for i, G in enumerate(small_graphs())]
    packed = PackedGraphClassifier(parts)
    before = {id(p): p.detach().clone() for p, _ in packed.owner_maps()}
    train_packed(packed, batches(3, 8, 16, seed=2), epochs=1, lr=0.05, clip_grad_norm=1.0)
    for param, owner in packed.owner_maps():
        free = owner == packed.num_graphs
        assert torch.equal(param.detach()[free], before[id(param)][free])
    for layer in packed.layers:
        for name in ("weight_ih", "weight_hh"):
            effective = getattr(layer, name)
            from hiddenstruct.nn import original

            owner = dict((id(p), o) for p, o in packed.owner_maps())[id(original(layer, name))]
            assert torch.all(effective[owner == packed.num_graphs] == 0)


def test_the_flat_optimiser_steps_exactly_the_owned_unmasked_entries():
    from hiddenstruct.training.packed import FlatParameters

    parts = [random_parts(G, "GRU", seed=i) for i, G in enumerate(small_graphs())]
    packed = PackedGraphClassifier(parts)
    maps, masks = packed.owner_maps(), packed.owner_masks()
    lives, before = [], [p.detach().clone() for p, _ in maps]
    for (param, owner), mask in zip(maps, masks, strict=True):
        live = owner < packed.num_graphs
        if mask is not None:
            assert mask.shape == param.shape
            live &= mask != 0
        lives.append(live)
    assert any(not live.all() for live in lives)
    flat = FlatParameters(maps, packed.num_graphs, masks)
    try:
        expected = torch.cat([b[live] for b, live in zip(before, lives, strict=True)])
        assert torch.equal(flat.trained.detach(), expected)
        with torch.no_grad():
            flat.trained.add_(1.0)
        flat.scatter()  # stepped entries move, all others keep their values
        for (param, _), old, live in zip(maps, before, lives, strict=True):
            assert torch.equal(param.detach()[live], old[live] + 1.0)
            assert torch.equal(param.detach()[~live], old[~live])
    finally:
        flat.release()


def test_per_graph_clipping_scales_only_offending_graphs():
    parts = [random_parts(G, "RNN_TANH", seed=i) for i, G in enumerate(small_graphs())]
    packed = PackedGraphClassifier(parts)
    codes, lengths, target = batches(1, 8, 16, seed=3)[0]
    from hiddenstruct.training.packed import per_graph_loss

    weights = torch.tensor([1.0, 100.0, 0.01, 1.0])  # make the graphs' gradient norms differ a lot
    (per_graph_loss(packed(codes, lengths), target) * weights).sum().backward()
    maps = packed.owner_maps()
    norms = per_graph_grad_norms(maps, packed.num_graphs)
    threshold = float(norms.median())
    clipped = clip_grad_norm_per_graph_(maps, packed.num_graphs, threshold)
    torch.testing.assert_close(clipped, norms)
    after = per_graph_grad_norms(maps, packed.num_graphs)
    for k in range(packed.num_graphs):
        expected = min(float(norms[k]), threshold)
        assert float(after[k]) == pytest.approx(expected, rel=1e-4)


def test_parts_round_trip_and_bad_input():
    parts = [random_parts(G, "LSTM", seed=i) for i, G in enumerate(small_graphs())]
    packed = PackedGraphClassifier(parts)
    for k, part in enumerate(parts):
        assert_parts_close(packed.parts(k), part, atol=0)
    with pytest.raises(ValueError, match="mode"):
        PackedGraphClassifier([parts[0], random_parts(nx.path_graph(4), "GRU", seed=0)])
    with pytest.raises(IndexError):
        packed.parts(len(parts))


def test_packing_real_graph_classifiers_equals_training_them_alone():
    from hiddenstruct.nn.packed import graph_classifier, parts_of

    graphs = small_graphs()
    models = [graph_classifier(G, "GRU", seed=i) for i, G in enumerate(graphs)]
    # same seed → same initialisation, and the global RNG is left alone
    state = torch.random.get_rng_state()
    again = graph_classifier(graphs[0], "GRU", seed=0)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert_parts_close(parts_of(again), parts_of(models[0]), atol=0)

    data = batches(5, 8, 128, seed=4)
    packed = PackedGraphClassifier.from_models(models)
    codes, lengths, _ = data[0]
    with torch.no_grad():
        logits = packed(codes, lengths)
        for k, model in enumerate(models):
            torch.testing.assert_close(logits[:, k], model(codes, lengths), atol=1e-6, rtol=1e-5)

    train_packed(packed, data, epochs=1, lr=0.01, clip_grad_norm=0.5)
    for k, model in enumerate(models):
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        for codes, lengths, target in data:
            loss = nn.functional.cross_entropy(model(codes, lengths), target)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
        assert_parts_close(packed.parts(k), parts_of(model), atol=1e-5)
        fresh = graph_classifier(graphs[k], "GRU", seed=k)
        packed.extract(k, fresh)
        assert_parts_close(parts_of(fresh), parts_of(model), atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("mode", ["GRU", "LSTM"])
def test_packed_training_on_cuda_matches_cpu(mode):
    parts = [random_parts(G, mode, seed=20 + i) for i, G in enumerate(small_graphs())]
    data = batches(4, 8, 16, seed=5)
    on_cpu = PackedGraphClassifier(copy.deepcopy(parts))
    on_gpu = PackedGraphClassifier(copy.deepcopy(parts)).to("cuda")
    train_packed(on_cpu, data, epochs=1, lr=0.01, clip_grad_norm=0.3)
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # cuDNN's TF32 RNN maths differs at ~1e-3
    try:
        train_packed(on_gpu, data, epochs=1, lr=0.01, clip_grad_norm=0.3)
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    for k in range(len(parts)):
        assert_parts_close(on_gpu.parts(k), on_cpu.parts(k), atol=1e-4)


@pytest.mark.parametrize("clip", [None, 0.3])
def test_flat_buffer_training_gives_the_same_bits_as_tensor_by_tensor(clip):
    from hiddenstruct.nn.packed import graph_classifier
    from hiddenstruct.training.optim import make_optimizer

    graphs = small_graphs()
    flat = PackedGraphClassifier.from_models(
        [graph_classifier(G, "GRU", seed=i) for i, G in enumerate(graphs)]
    )
    plain = copy.deepcopy(flat)
    data = batches(4, 8, 16, seed=5)
    train_packed(flat, data, epochs=2, lr=0.01, clip_grad_norm=clip)  # flat buffer
    train_packed(  # an optimiser factory takes the tensor-by-tensor path
        plain,
        data,
        epochs=2,
        lr=0.01,
        clip_grad_norm=clip,
        optimizer=lambda ps: make_optimizer("adam", ps, 0.01),
    )
    for (name, a), b in zip(flat.named_parameters(), plain.parameters(), strict=True):
        assert torch.equal(a, b), name
        assert a.grad is None  # released: own storage, no gradient views left
    storages = {p.untyped_storage().data_ptr() for p in flat.parameters()}
    assert len(storages) == len(list(flat.parameters()))
