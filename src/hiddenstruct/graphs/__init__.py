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

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "compose": ("compose",),
        "convert": ("UnsupportedModelError", "to_graph"),
        "dag": ("default_order", "layer_index", "layers", "to_dag", "validate_graph"),
        "effective": (
            "EffectiveSparsityReport",
            "effective_sparsity",
            "effective_weights",
            "prune_ineffective",
        ),
        "files": ("GraphRecord", "load_graph_files"),
        "fx_trace": ("TracingError",),
        "generators": (
            "PRIOR_FAMILIES",
            "barabasi_albert",
            "classic_barabasi_albert",
            "erdos_renyi",
            "sample_prior_graphs",
            "watts_strogatz",
        ),
        "io": ("read_edge_list", "read_graph", "write_graph"),
        "properties": ("properties", "PROPERTY_NAMES", "properties_table"),
        "topology": (
            "TopologyDistance",
            "pairwise_topology_distances",
            "topology_alignment",
            "topology_distance",
        ),
        "traced": ("GraphTooLargeError", "traced_graph"),
    },
)
