"""Sparsity during learning: L1 / group lasso + threshold, and dynamic sparse training.

* :mod:`.layers`: the sparse tensors of a model and initial masks (``uniform`` / ``erdos_renyi``;
  tensors, budgets and top-k come from :mod:`hiddenstruct.sparsity`, shared with pruning);
* :mod:`.regularization`: :class:`L1Penalty`, :class:`GroupLassoPenalty`, :class:`MagnitudeThreshold`;
* :mod:`.methods`: :class:`SET`, :class:`RigL`, :class:`SparseMomentum` on one shared
  update loop (:mod:`.dynamic`, a :class:`hiddenstruct.sparsity.MaskUpdater`), used as
  ``train(..., step_hooks=[method])``;
* :mod:`.structure`: :class:`StructureTracker`, graph properties and ξ of the masks over training;
* :mod:`.routes`: :func:`train_route`, one model made sparse by one route (pruning, static
  prior, L1, SET, RigL, sparse momentum) at an exact final density, with its cost.

Names are imported lazily (PEP 562), so ``hiddenstruct.sparse_training.route_names`` loads
without torch. See docs/sparse-training.md.
"""

from __future__ import annotations

from hiddenstruct.lazy import lazy_exports

_EXPORTS = {
    "DynamicSparsity": "dynamic",
    "reset_optimizer_state": "dynamic",
    "select_top": "dynamic",
    "DenseGradientRecorder": "gradients",
    "dense_gradients": "gradients",
    "DISTRIBUTIONS": "layers",
    "SparseLayer": "layers",
    "allocate_counts": "layers",
    "init_sparse_masks": "layers",
    "layer_counts": "layers",
    "sparse_layers": "layers",
    "METHODS": "methods",
    "SET": "methods",
    "RigL": "methods",
    "SparseMomentum": "methods",
    "make_method": "methods",
    "GroupLassoPenalty": "regularization",
    "L1Penalty": "regularization",
    "MagnitudeThreshold": "regularization",
    "largest_live": "regularization",
    "neuron_rows": "regularization",
    "ROUTES": "route_names",
    "CostCounter": "routes",
    "RouteOptions": "routes",
    "RouteResult": "routes",
    "train_route": "routes",
    "UPDATE_SCHEDULES": "schedules",
    "constant_fraction": "schedules",
    "cosine_fraction": "schedules",
    "get_update_schedule": "schedules",
    "StructureTracker": "structure",
    "mask_graph": "structure",
    "structure_record": "structure",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
