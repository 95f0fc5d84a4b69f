"""Graphs: layered DAGs, generators (structural priors), model↔graph, properties.

Names are imported lazily (PEP 562, as in :mod:`hiddenstruct.training`): model ↔ graph loads
torch and the properties load igraph, and the experiments import light submodules such as
``hiddenstruct.graphs.files`` while the CLI builds its parsers (keeps start-up fast).
"""

from __future__ import annotations

# Functions named as their module are bound now: importing the submodule would otherwise
# rebind the package attribute to the module (the CLI loads graphs.properties anyway).
from hiddenstruct.graphs.compose import compose as compose
from hiddenstruct.graphs.properties import properties as properties
from hiddenstruct.lazy import lazy_exports

_EXPORTS = {
    "UnsupportedModelError": "convert",
    "to_graph": "convert",
    "default_order": "dag",
    "layer_index": "dag",
    "layers": "dag",
    "to_dag": "dag",
    "validate_graph": "dag",
    "GraphRecord": "files",
    "load_graph_files": "files",
    "PRIOR_FAMILIES": "generators",
    "barabasi_albert": "generators",
    "classic_barabasi_albert": "generators",
    "erdos_renyi": "generators",
    "sample_prior_graphs": "generators",
    "watts_strogatz": "generators",
    "read_edge_list": "io",
    "read_graph": "io",
    "write_graph": "io",
    "PROPERTY_NAMES": "properties",
    "properties_table": "properties",
    "TopologyDistance": "topology",
    "pairwise_topology_distances": "topology",
    "topology_alignment": "topology",
    "topology_distance": "topology",
    "TracingError": "fx_trace",
    "GraphTooLargeError": "traced",
    "traced_graph": "traced",
    "EffectiveSparsityReport": "effective",
    "effective_sparsity": "effective",
    "effective_weights": "effective",
    "prune_ineffective": "effective",
}

__all__ = sorted([*_EXPORTS, "compose", "properties"])


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
