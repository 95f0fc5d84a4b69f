"""Structure over training: records equal the properties of the masks' own graph."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from hiddenstruct.graphs.properties import properties
from hiddenstruct.nn.ffn import layered_structure_graph
from hiddenstruct.sparse_training import (
    SET,
    StructureTracker,
    init_sparse_masks,
    mask_graph,
    structure_record,
)
from hiddenstruct.training import train


def test_tracker_records_every_k_updates_and_matches_the_final_mask(make_ffn, loader):
    net = make_ffn(0)
    init_sparse_masks(net, 0.3, "erdos_renyi", seed=0)
    tracker = StructureTracker(net, every=2)
    method = SET(net, update_every=3, seed=0, tracker=tracker)
    train(net, loader, epochs=3, step_hooks=[method], progress=False, device="cpu")
    assert method.updates == 12
    assert [r["update"] for r in tracker.records] == [2, 4, 6, 8, 10, 12]
    final = tracker.records[-1]
    # reference: the networkx backend on a graph built straight from the mask tensors
    masks = [layer.parametrizations.weight[0].mask for layer in net.layers]
    expected = properties(
        layered_structure_graph(masks, include_io=False), "networkx", disconnected="largest"
    )
    for key, value in expected.items():
        assert final[key] == pytest.approx(value, rel=1e-6, nan_ok=True), key
    assert final["xi"] == pytest.approx(method.live / sum(m.numel() for m in masks))
    for layer, mask in zip(net.layers, masks, strict=True):
        name = f"xi:layers.{list(net.layers).index(layer)}.weight"
        assert final[name] == pytest.approx(float(mask.mean()))


def test_mask_graph_counts_regrown_zero_weights_and_restores_weights(make_ffn):
    net = make_ffn(0)
    init_sparse_masks(net, 0.5, seed=0)
    w = net.layers[1].parametrizations.weight.original
    mask = net.layers[1].parametrizations.weight[0].mask
    with torch.no_grad():
        w[mask.bool()] = 0  # every live weight of layer 1 is a fresh zero
    saved = [p.detach().clone() for p in net.parameters()]
    graph = mask_graph(net, include_io=False)
    assert graph.number_of_edges() == int(mask.sum())
    assert all(torch.equal(a, b) for a, b in zip(saved, net.parameters(), strict=True))


def test_plain_models_get_xi_and_a_reason_instead_of_graph_properties():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    init_sparse_masks(model, 0.5, seed=0)
    record = structure_record(model)
    assert record["xi"] == pytest.approx(round(0.5 * 18) / 18)
    assert "structure_graph" in record["graph_error"]


def test_edgeless_mask_graph_gives_a_reason_not_a_crash():
    from hiddenstruct.nn import MaskedRNN, SequenceClassifier

    model = SequenceClassifier(MaskedRNN(4, [5], "gru"), vocab_size=8)
    init_sparse_masks(model, 0.5, seed=0)
    assert "no edges" in structure_record(model)["graph_error"]
    assert structure_record(model, include_io=True)["edges"] > 0


def test_tracker_topology_distances_follow_the_mask_changes(make_ffn, loader):
    """SET rewires masks: distances to the start grow from 0; each record's distance to the
    previous one equals the distance computed directly between the two mask graphs."""
    from hiddenstruct.graphs import topology_distance

    net = make_ffn(0)
    init_sparse_masks(net, 0.3, "erdos_renyi", seed=0)
    tracker = StructureTracker(net, every=2, topology=True)
    graphs = []
    original_record = tracker.record

    def record(step=None, update=None):
        graphs.append(mask_graph(net, include_io=True))
        return original_record(step, update)

    tracker.record = record
    tracker.record(step=0)
    method = SET(net, update_every=3, seed=0, tracker=tracker)
    train(net, loader, epochs=2, step_hooks=[method], progress=False, device="cpu")
    rows = tracker.records
    assert rows[0]["topology_to_start"] == 0.0 and math.isnan(rows[0]["topology_to_previous"])
    assert all(r["topology_to_start"] > 0 for r in rows[1:])
    assert rows[-1]["topology_to_start"] > rows[1]["topology_to_start"]
    for k in range(1, len(rows)):
        expected = topology_distance(graphs[k - 1], graphs[k])
        assert rows[k]["topology_to_previous"] == expected
    assert "topology_to_start" not in StructureTracker(net).record()


def test_lottery_ticket_rounds_are_tracked(make_ffn):
    """iterative_prune with rewinding (lottery-ticket rounds) reports one record per round;
    masks only shrink, so the structure moves further from the dense start every round."""
    from hiddenstruct.pruning import iterative_prune, relative, snapshot_weights
    from hiddenstruct.pruning.schedules import StopCriteria

    net = make_ffn(0)
    tracker = StructureTracker(net, topology=True)
    tracker.record(step=0)
    iterative_prune(
        net,
        "magnitude",
        "class_blinded",
        relative(0.4),
        rewind_to=snapshot_weights(net),
        stop=StopCriteria(max_steps=4),
        on_step=tracker.on_prune_step,
    )
    rows = tracker.records
    assert [r["update"] for r in rows] == [None, 1, 2, 3, 4]
    to_start = [r["topology_to_start"] for r in rows]
    assert to_start[0] == 0.0
    assert all(a < b for a, b in zip(to_start, to_start[1:], strict=False)), to_start
    assert all(0 < r["topology_to_previous"] <= 1 for r in rows[1:])
