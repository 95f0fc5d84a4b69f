"""GraphNet: parameter formula, fused vs autograd equivalence, masks, round trip, bad graphs."""

from __future__ import annotations

import copy

import networkx as nx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenstruct.errors import GraphError, UsageError
from hiddenstruct.graphs import layers, to_dag, to_graph
from hiddenstruct.nn import GraphNet, apply_mask, graphnet_parameter_count, masks, original


def _param_count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _expected(G: nx.Graph, input_size: int, output_size: int, readout: str) -> int:
    D = to_dag(G)
    grouped = layers(D)
    read = grouped[-1] if readout == "last_layer" else [v for v in D if D.out_degree(v) == 0]
    return graphnet_parameter_count(
        D.number_of_edges(),
        D.number_of_nodes(),
        len(grouped[0]),
        len(read),
        input_size,
        output_size,
    )


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("readout", ["last_layer", "sinks"])
def test_parameter_formula_on_random_graphs(seed, readout):
    G = nx.gnp_random_graph(25 + 5 * seed, 0.15, seed=seed)
    net = GraphNet(G, 7, 3, readout=readout)
    assert _param_count(net) == _expected(G, 7, 3, readout)
    assert net.edges.weight.numel() == G.number_of_edges()


def test_formula_by_hand_on_diamond_with_skip_edge():
    G = nx.DiGraph([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("a", "d")])
    net = GraphNet(G, 4, 2)
    assert net.layers() == [["a"], ["b", "c"], ["d"]]
    # E=5, input 4·1, readout 2·1, biases 4, readout bias 2
    assert _param_count(net) == 5 + 4 + 2 + 4 + 2
    sinks = GraphNet(G, 4, 2, readout="sinks")
    assert _param_count(sinks) == _param_count(net)


def test_forward_matches_dense_reference_formula():
    torch.manual_seed(0)
    G = nx.DiGraph([(0, 1), (0, 2), (1, 3), (2, 3), (0, 3), (1, 2)])
    net = GraphNet(G, 3, 2, activation="tanh")
    x = torch.randn(4, 3)
    idx = net.vertex_index
    w = dict(zip(net.edge_list(), net.edges.weight.detach().tolist(), strict=True))
    a = {}
    for v in nx.topological_sort(G):
        if G.in_degree(v) == 0:
            z = x @ net.input_layer.weight[net.layers()[0].index(v)].detach()
        else:
            z = sum(w[(u, v)] * a[u] for u in G.predecessors(v))
        a[v] = torch.tanh(z + net.bias[idx[v]].detach())
    read = torch.stack([a[v] for v in net.layers()[-1]], dim=1)
    expected = net.readout(read)
    assert torch.allclose(net(x), expected, atol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "identity"])
def test_fused_engine_equals_autograd_engine(activation):
    torch.manual_seed(1)
    G = nx.gnp_random_graph(40, 0.1, seed=2)
    fused = GraphNet(G, 6, 3, activation=activation, readout="sinks")
    ref = GraphNet(G, 6, 3, activation=activation, readout="sinks", engine="autograd")
    ref.load_state_dict(fused.state_dict())
    g = torch.Generator().manual_seed(3)
    apply_mask(
        fused.edges, "weight", (torch.rand(fused.edges.weight.shape, generator=g) < 0.7).float()
    )
    ref.load_state_dict(fused.state_dict())
    x = torch.randn(5, 6, dtype=torch.float64)
    fused.double(), ref.double()
    out_f, out_r = fused(x), ref(x)
    assert torch.allclose(out_f, out_r, atol=1e-12)
    out_f.sin().sum().backward()
    out_r.sin().sum().backward()
    for (name, p), (_, q) in zip(fused.named_parameters(), ref.named_parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, atol=1e-12), name
    assert fused.edges.parametrizations.weight.original.grad.abs().sum() > 0


def test_masked_edges_get_zero_gradient_and_exact_counts():
    torch.manual_seed(0)
    net = GraphNet(nx.gnp_random_graph(30, 0.2, seed=4), 5, 2)
    g = torch.Generator().manual_seed(5)
    mask = (torch.rand(net.edges.weight.shape, generator=g) < 0.5).float()
    apply_mask(net.edges, "weight", mask)
    assert int(torch.count_nonzero(net.edges.weight)) == int(mask.sum())
    net(torch.randn(8, 5)).pow(2).sum().backward()
    grad = original(net.edges, "weight").grad
    assert torch.all(grad[mask == 0] == 0)
    assert set(masks(net)) == {"input_layer.weight", "edges.weight", "readout.weight"}


def test_state_dict_round_trip_deepcopy_and_input_shape():
    torch.manual_seed(0)
    G = nx.barabasi_albert_graph(30, 2, seed=6)
    net = GraphNet(G, (1, 3, 3), 4)
    apply_mask(net.edges, "weight", (torch.arange(net.edges.weight.numel()) % 3 != 0).float())
    fresh = GraphNet(G, (1, 3, 3), 4)
    fresh.load_state_dict(net.state_dict())
    x = torch.randn(2, 1, 3, 3)
    assert torch.equal(fresh(x), net(x))
    assert torch.equal(copy.deepcopy(net)(x), net(x))


def test_round_trip_graph_to_model_to_graph():
    G = nx.gnp_random_graph(30, 0.2, seed=7)
    G.add_node(99)  # an isolated vertex is kept
    net = GraphNet(G, 3, 2)
    H = to_graph(net, hidden_only=True)
    D = to_dag(G)
    assert set(H.nodes) == set(D.nodes) and set(H.edges) == set(D.edges)
    again = GraphNet(H, 3, 2)
    assert set(to_graph(again, hidden_only=True).edges) == set(D.edges)
    assert again.vertices == net.vertices
    assert all(H.nodes[v]["layer"] == layer for layer, vs in enumerate(net.layers()) for v in vs)
    assert nx.utils.graphs_equal(
        nx.DiGraph(to_graph(again, hidden_only=True).edges), nx.DiGraph(D.edges)
    )


def test_structure_graph_drops_pruned_edges_and_adds_io():
    torch.manual_seed(0)
    net = GraphNet(nx.path_graph(4), 2, 3)
    apply_mask(net.edges, "weight", torch.tensor([1.0, 0.0, 1.0]))
    H = to_graph(net, hidden_only=True)
    assert set(H.edges) == {(0, 1), (2, 3)}
    full = to_graph(net, include_io=True)
    assert full.number_of_nodes() == 4 + 2 + 3
    assert full.number_of_edges() == 2 + 2 * 1 + 3 * 1
    assert full.nodes[("in", 0)]["layer"] == -1 and full.nodes[("out", 0)]["layer"] == 4


def test_large_graph_builds_quickly():
    import time

    G = nx.gnm_random_graph(5_000, 50_000, seed=0)
    start = time.perf_counter()
    net = GraphNet(G, 16, 4)
    assert time.perf_counter() - start < 10
    assert net.edges.weight.numel() == 50_000
    out = net(torch.randn(2, 16))
    assert out.shape == (2, 4) and torch.isfinite(out).all()


@pytest.mark.parametrize(
    "graph, message",
    [
        (nx.Graph(), "empty"),
        (nx.DiGraph([(0, 1), (1, 2), (2, 0)]), "cycle"),
        (nx.Graph([(0, 0), (0, 1)]), "self-loop"),
        (nx.MultiGraph([(0, 1), (0, 1)]), "multigraph"),
        ([(0, 1)], "networkx graph"),
    ],
)
def test_bad_graphs_raise_graph_error(graph, message):
    with pytest.raises(GraphError, match=message):
        GraphNet(graph, 3, 2)


def test_bad_settings_raise_usage_error():
    G = nx.path_graph(3)
    with pytest.raises(UsageError, match="readout"):
        GraphNet(G, 3, 2, readout="middle")
    with pytest.raises(UsageError, match="engine"):
        GraphNet(G, 3, 2, engine="magic")
    with pytest.raises(GraphError, match="readout vertices"):
        GraphNet(G, 3, 2, readout=[7])


labels = st.one_of(st.integers(0, 12), st.sampled_from(["a", "b", "c", "d"]))


@st.composite
def random_graphs(draw):
    directed = draw(st.booleans())
    G = nx.DiGraph() if directed else nx.Graph()
    G.add_nodes_from(draw(st.lists(labels, max_size=8)))
    G.add_edges_from(draw(st.lists(st.tuples(labels, labels), max_size=20)))
    return G


@settings(max_examples=250, deadline=None)
@given(G=random_graphs(), readout=st.sampled_from(["last_layer", "sinks"]))
def test_hypothesis_graphs_build_or_fail_with_graph_error(G, readout):
    try:
        net = GraphNet(G, 3, 2, readout=readout)
    except GraphError:
        bad = (
            G.number_of_nodes() == 0
            or nx.number_of_selfloops(G) > 0
            or (G.is_directed() and not nx.is_directed_acyclic_graph(G))
        )
        assert bad
        return
    assert _param_count(net) == _expected(G, 3, 2, readout)
    out = net(torch.randn(2, 3))
    assert out.shape == (2, 2) and torch.isfinite(out).all()


@pytest.mark.slow
def test_hundred_thousand_edges_build_in_seconds():
    import time

    G = nx.gnm_random_graph(20_000, 100_000, seed=1)
    start = time.perf_counter()
    net = GraphNet(G, 32, 10)
    assert time.perf_counter() - start < 10
    assert _param_count(net) == _expected(G, 32, 10, "last_layer")
    net(torch.randn(4, 32)).sum().backward()
