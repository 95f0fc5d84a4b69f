"""Graphs: layered DAGs, generators (structural priors), model↔graph, properties."""

from hiddenstruct.graphs.dag import default_order, layer_index, layers, to_dag, validate_graph

__all__ = ["default_order", "layer_index", "layers", "to_dag", "validate_graph"]
