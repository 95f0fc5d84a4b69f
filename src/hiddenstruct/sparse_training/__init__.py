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

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "dynamic": ("DynamicSparsity", "reset_optimizer_state"),
        "gradients": ("DenseGradientRecorder", "dense_gradients"),
        "layers": ("init_sparse_masks",),
        # one mask concept: re-exported from where they live
        "hiddenstruct.sparsity": (
            "DISTRIBUTIONS",
            "SparseLayer",
            "allocate_counts",
            "layer_counts",
            "select_top",
            "sparse_layers",
        ),  # fmt: skip
        "methods": ("METHODS", "SET", "RigL", "SparseMomentum", "make_method"),
        "regularization": (
            "GroupLassoPenalty",
            "L1Penalty",
            "MagnitudeThreshold",
            "largest_live",
            "neuron_rows",
        ),
        "route_names": ("ROUTES",),
        "routes": ("CostCounter", "RouteOptions", "RouteResult", "train_route"),
        "schedules": (
            "UPDATE_SCHEDULES",
            "constant_fraction",
            "cosine_fraction",
            "get_update_schedule",
        ),
        "structure": ("StructureTracker", "mask_graph", "structure_record"),
    },
)
