"""Reference backend: graph properties computed with plain networkx functions."""

from __future__ import annotations

import networkx as nx

from hiddenstruct.graphs._property_common import (
    density,
    disconnected_error,
    largest_component,
    ordered,
    summary,
)
from hiddenstruct.graphs.dag import layers as dag_layers
from hiddenstruct.graphs.dag import to_dag


def networkx_properties(G: nx.Graph, disconnected: str = "error") -> dict[str, float]:
    """The structural properties (paper Table 1) with networkx's own algorithms (slow, the reference)."""
    U = G.to_undirected() if G.is_directed() else G
    parts = nx.number_connected_components(U)
    if parts > 1:
        if disconnected != "largest":
            raise disconnected_error(parts)
        return networkx_properties(largest_component(G), disconnected)
    D = G if G.is_directed() else to_dag(G)
    layered = dag_layers(D)
    n, e = U.number_of_nodes(), U.number_of_edges()
    eccentricity = nx.eccentricity(U)
    values: dict[str, float] = {
        "layers": len(layered),
        "nodes": n,
        "edges": e,
        "source_nodes": len(layered[0]),
        "sink_nodes": len(layered[-1]),
        "diameter": nx.diameter(U, e=eccentricity),
        "density": density(n, e),
        "average_shortest_path_length": nx.average_shortest_path_length(U),
    }
    values.update(summary("eccentricity", list(eccentricity.values())))
    values.update(summary("degree", list(nx.degree_centrality(U).values())))
    values.update(summary("closeness", list(nx.closeness_centrality(U).values())))
    values.update(
        summary("nodes_betweenness", list(nx.betweenness_centrality(U, normalized=True).values()))
    )
    values.update(
        summary(
            "edge_betweenness", list(nx.edge_betweenness_centrality(U, normalized=True).values())
        )
    )
    return ordered(values)
