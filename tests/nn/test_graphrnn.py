"""GraphRNN: masks follow the DAG's edges, equivalence to a per-step reference, structure."""

from __future__ import annotations

import copy

import networkx as nx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenstruct.errors import GraphError
from hiddenstruct.graphs import layer_index, to_dag
from hiddenstruct.nn import apply_mask, get_mask, load_state_dict, masks
from hiddenstruct.nn.graphrnn import GraphRNN
from hiddenstruct.nn.varlen import hidden_of
from hiddenstruct.testing import reference_stack

pytestmark = pytest.mark.usefixtures("engine")  # C++ kernels and fallback

ALL_MODES = ["RNN_TANH", "RNN_RELU", "GRU", "LSTM"]


def reference_layer_states(net: GraphRNN, x, lengths):
    """Per time step, per layer: layer l reads [h_t^0; …; h_t^{l−1}] of the same step."""
    weights = [layer.weights() for layer in net.layers]
    _, states = reference_stack(net.mode, weights, x, lengths, dag=True)
    return [hidden_of(s) for s in states]


def skip_dag() -> nx.DiGraph:
    """Diamond 0→{1,2}→3 plus a skip edge 0→3 and a second source 4→2."""
    return nx.DiGraph([(0, 1), (0, 2), (1, 3), (2, 3), (0, 3), (4, 2)])


def test_layers_and_vertex_index_follow_layer_index():
    net = GraphRNN(skip_dag(), input_size=3, mode="GRU")
    ind = layer_index(skip_dag())
    assert net.layer_sizes == (2, 2, 1)
    for v, (li, pos) in net.vertex_index.items():
        assert ind[v] == li
        assert net.vertices[li][pos] == v


@pytest.mark.parametrize("mode", ALL_MODES)
def test_i2h_masks_are_exactly_the_edges(mode):
    G = skip_dag()
    net = GraphRNN(G, input_size=3, mode=mode)
    gates = net.spec.gates
    columns_of = [[v for group in net.vertices[:li] for v in group] for li in range(3)]
    assert bool(get_mask(net.layers[0], "weight_ih").all())
    assert get_mask(net.layers[0], "weight_ih").shape == (gates * 2, 3)
    for li in (1, 2):
        mask = get_mask(net.layers[li], "weight_ih")
        n_l = net.layer_sizes[li]
        assert mask.shape == (gates * n_l, len(columns_of[li]))
        for g in range(gates):
            for p, v in enumerate(net.vertices[li]):
                for c, u in enumerate(columns_of[li]):
                    assert mask[g * n_l + p, c] == float(G.has_edge(u, v))
        assert bool(get_mask(net.layers[li], "weight_hh").all())
    # Weights: gates × (dense input + one per edge) structural i2h entries are live.
    live = sum(int(m.sum()) for k, m in masks(net).items() if k.endswith("weight_ih"))
    assert live == gates * (3 * 2 + G.number_of_edges())


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("variable", [False, True])
def test_matches_per_step_reference(mode, variable):
    torch.manual_seed(0)
    G = nx.connected_watts_strogatz_graph(12, 4, 0.4, seed=3)
    net = GraphRNN(G, input_size=4, mode=mode, output_size=3)
    x = torch.randn(4, 7, 4)
    lengths = torch.tensor([7, 2, 5, 1]) if variable else torch.full((4,), 7)
    with torch.no_grad():
        states = net.layer_states(x, lengths if variable else None)
        ref = reference_layer_states(net, x, lengths)
    assert [s.shape[1] for s in states] == list(net.layer_sizes)
    for s, r in zip(states, ref, strict=True):
        torch.testing.assert_close(s, r, atol=1e-5, rtol=0)
    with torch.no_grad():
        logits = net(x, lengths if variable else None)
        torch.testing.assert_close(logits, net.readout(ref[-1]), atol=1e-5, rtol=0)


def test_packed_block_diagonal_masks_keep_graphs_independent():
    """Two graphs as one disjoint GraphRNN: block-diagonal masks make them independent."""
    torch.manual_seed(1)
    A = nx.path_graph(4)  # chain → 4 layers of 1 vertex
    B = nx.relabel_nodes(nx.star_graph(3), lambda v: v + 10)  # 10 → {11,12,13}: 2 layers
    net = GraphRNN(nx.disjoint_union(A, B), input_size=4, mode="LSTM")
    # Graph A reads input features 0-1, graph B reads 2-3.
    first = net.vertices[0]
    mask0 = torch.zeros(4 * len(first), 4)
    for p, v in enumerate(first):
        cols = [0, 1] if v < 4 else [2, 3]
        for g in range(4):
            mask0[g * len(first) + p, cols] = 1
    apply_mask(net.layers[0], "weight_ih", mask0)
    for li, group in enumerate(net.vertices):
        same = torch.tensor([[(u < 4) == (v < 4) for u in group] for v in group], dtype=torch.float)
        apply_mask(net.layers[li], "weight_hh", same.repeat(4, 1))
    x = torch.randn(3, 5, 4)
    states = net.layer_states(x)
    x2 = x.clone()
    x2[..., 2:] = torch.randn(3, 5, 2)  # change only graph B's inputs
    states2 = net.layer_states(x2)
    for li, group in enumerate(net.vertices):
        for p, v in enumerate(group):
            same = torch.allclose(states[li][:, p], states2[li][:, p])
            assert same == (v < 4), (li, v)


@pytest.mark.parametrize("mode", ["RNN_TANH", "GRU"])  # ReLU units may be dead: no grad
def test_masked_weights_zero_grad_and_state_dict_round_trip(mode):
    torch.manual_seed(2)
    G = nx.barabasi_albert_graph(10, 2, seed=5)
    net = GraphRNN(G, input_size=3, mode=mode, output_size=2)
    x, lengths = torch.randn(4, 6, 3), torch.tensor([6, 3, 4, 2])
    net(x, lengths).sum().backward()
    for li, layer in enumerate(net.layers):
        grad = layer.parametrizations.weight_ih.original.grad
        mask = get_mask(layer, "weight_ih")
        assert torch.all(grad[mask == 0] == 0)
        if li > 0:
            assert torch.any(grad[mask == 1] != 0)
    fresh = GraphRNN(G, input_size=3, mode=mode, output_size=2)
    load_state_dict(fresh, net.state_dict())
    torch.testing.assert_close(fresh(x, lengths), net(x, lengths), atol=0, rtol=0)
    clone = copy.deepcopy(net)
    torch.testing.assert_close(clone(x, lengths), net(x, lengths), atol=0, rtol=0)
    assert clone.vertex_index == net.vertex_index


def test_structure_graph_round_trips_the_dag():
    G = nx.connected_watts_strogatz_graph(15, 4, 0.5, seed=8)
    net = GraphRNN(G, input_size=2, mode="GRU", output_size=3)
    D = to_dag(G)
    S = net.structure_graph(include_io=False)
    assert set(S.nodes) == set(D.nodes)
    assert set(S.edges) == set(D.edges)
    ind = layer_index(D)
    assert all(S.nodes[v]["layer"] == ind[v] for v in S.nodes)
    # Rebuilding from the extracted structure gives the same wiring.
    again = GraphRNN(S, input_size=2, mode="GRU")
    assert set(again.structure_graph(include_io=False).edges) == set(D.edges)
    # Pruning one gate-stack entry keeps the edge; pruning all gates removes it.
    u, v = next(iter(D.edges))
    lv, pv = net.vertex_index[v]
    columns = [w for group in net.vertices[:lv] for w in group]
    mask = get_mask(net.layers[lv], "weight_ih").clone()
    n_l = net.layer_sizes[lv]
    mask[pv, columns.index(u)] = 0
    apply_mask(net.layers[lv], "weight_ih", mask)
    assert net.structure_graph(include_io=False).has_edge(u, v)
    mask[[g * n_l + pv for g in range(3)], columns.index(u)] = 0
    apply_mask(net.layers[lv], "weight_ih", mask)
    assert not net.structure_graph(include_io=False).has_edge(u, v)
    full = net.structure_graph(include_io=True)
    n0 = net.layer_sizes[0]
    assert full.number_of_edges() == D.number_of_edges() - 1 + 2 * n0 + 3 * net.layer_sizes[-1]


def test_undirected_orientation_options():
    G = nx.cycle_graph(5)
    default = GraphRNN(G, 2, "RNN_TANH")
    assert set(default.structure_graph(include_io=False).edges) == set(to_dag(G).edges)
    reordered = GraphRNN(G, 2, "RNN_TANH", order=[4, 3, 2, 1, 0])
    assert set(reordered.structure_graph(include_io=False).edges) == {
        (v, u) for u, v in to_dag(G).edges
    }
    seeded = [
        GraphRNN(G, 2, "RNN_TANH", seed=4).structure_graph(include_io=False) for _ in range(2)
    ]
    assert set(seeded[0].edges) == set(seeded[1].edges)


@pytest.mark.parametrize(
    "graph, message",
    [
        (nx.Graph(), "empty"),
        (nx.DiGraph([(0, 1), (1, 2), (2, 0)]), "cycle"),
        (nx.Graph([(0, 0), (0, 1)]), "self-loop"),
        (nx.MultiGraph([(0, 1), (0, 1)]), "multigraph"),
        ([(0, 1)], "networkx"),
    ],
)
def test_bad_graphs_raise_graph_error(graph, message):
    with pytest.raises(GraphError, match=message):
        GraphRNN(graph, 3, "GRU")


def test_bad_mode_and_sizes():
    with pytest.raises(ValueError, match="LSTM"):
        GraphRNN(nx.path_graph(3), 3, "conv")
    with pytest.raises(ValueError, match="input_size"):
        GraphRNN(nx.path_graph(3), 0, "GRU")


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    p=st.floats(0.0, 1.0),
    seed=st.integers(0, 10_000),
    directed=st.booleans(),
)
def test_random_graphs_build_and_run(n, p, seed, directed):
    G = nx.gnp_random_graph(n, p, seed=seed, directed=directed)
    if directed:
        G = nx.DiGraph([(u, v) for u, v in G.edges if u < v])  # acyclic
        G.add_nodes_from(range(n))
    net = GraphRNN(G, input_size=2, mode="GRU", output_size=2)
    assert sum(net.layer_sizes) == n
    assert set(net.structure_graph(include_io=False).edges) == set(to_dag(G).edges)
    out = net(torch.randn(2, 3, 2), torch.tensor([3, 1]))
    assert out.shape == (2, 2) and torch.isfinite(out).all()


def test_to_graph_uses_structure_graph(include_io=False):
    from hiddenstruct.graphs import to_graph
    from hiddenstruct.nn import MaskedRNN, SequenceClassifier

    G = nx.barabasi_albert_graph(12, 2, seed=2)
    net = GraphRNN(G, input_size=3, mode="LSTM")
    assert set(to_graph(net, hidden_only=True).edges) == set(to_dag(G).edges)
    clf = SequenceClassifier(MaskedRNN(4, [3, 2], "GRU"), num_classes=2)
    full = to_graph(clf, include_io=True)
    assert full.number_of_edges() == 4 * 3 + 3 * 2 + 2 * 2
    roles = {d["role"] for _, d in full.nodes(data=True)}
    assert roles == {"input", "hidden", "output"}
