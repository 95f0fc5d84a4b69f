"""Graphs: layered DAGs, generators (structural priors), model↔graph, properties."""

from hiddenstruct.graphs.compose import compose
from hiddenstruct.graphs.convert import UnsupportedModelError, to_graph
from hiddenstruct.graphs.dag import default_order, layer_index, layers, to_dag, validate_graph
from hiddenstruct.graphs.files import GraphRecord, load_graph_files
from hiddenstruct.graphs.generators import (
    PRIOR_FAMILIES,
    barabasi_albert,
    classic_barabasi_albert,
    erdos_renyi,
    sample_prior_graphs,
    watts_strogatz,
)
from hiddenstruct.graphs.io import read_edge_list, read_graph, write_graph
from hiddenstruct.graphs.properties import PROPERTY_NAMES, properties, properties_table
from hiddenstruct.graphs.topology import (
    TopologyDistance,
    pairwise_topology_distances,
    topology_alignment,
    topology_distance,
)

__all__ = [
    "UnsupportedModelError",
    "read_edge_list",
    "read_graph",
    "to_graph",
    "write_graph",
    "default_order",
    "layer_index",
    "layers",
    "to_dag",
    "validate_graph",
]
__all__ += [
    "PRIOR_FAMILIES",
    "barabasi_albert",
    "classic_barabasi_albert",
    "erdos_renyi",
    "sample_prior_graphs",
    "watts_strogatz",
]
__all__ += ["GraphRecord", "load_graph_files"]
__all__ += ["PROPERTY_NAMES", "properties", "properties_table"]
__all__ += [
    "TopologyDistance",
    "pairwise_topology_distances",
    "topology_alignment",
    "topology_distance",
]
__all__ += ["compose"]

from hiddenstruct.graphs.fx_trace import TracingError  # noqa: E402
from hiddenstruct.graphs.traced import GraphTooLargeError, traced_graph  # noqa: E402

__all__ += ["GraphTooLargeError", "TracingError", "traced_graph"]

from hiddenstruct.graphs.effective import (  # noqa: E402
    EffectiveSparsityReport,
    effective_sparsity,
    effective_weights,
    prune_ineffective,
)

__all__ += [
    "EffectiveSparsityReport",
    "effective_sparsity",
    "effective_weights",
    "prune_ineffective",
]
