"""Sparsity during learning: L1 / group lasso + threshold, and dynamic sparse training.

* :mod:`.layers`: the sparse tensors of a model and initial masks (``uniform`` / ``erdos_renyi``);
* :mod:`.regularization`: :class:`L1Penalty`, :class:`GroupLassoPenalty`, :class:`MagnitudeThreshold`;
* :mod:`.methods`: :class:`SET`, :class:`RigL`, :class:`SparseMomentum` on one shared
  update loop (:mod:`.dynamic`), used as ``train(..., step_hooks=[method])``;
* :mod:`.structure`: :class:`StructureTracker`, graph properties and ξ of the masks over training;
* :mod:`.routes`: :func:`train_route`, one model made sparse by one route (pruning, static
  prior, L1, SET, RigL, sparse momentum) at an exact final density, with its cost.

See docs/sparse-training.md.
"""

from hiddenstruct.sparse_training.dynamic import DynamicSparsity, reset_optimizer_state, select_top
from hiddenstruct.sparse_training.gradients import DenseGradientRecorder, dense_gradients
from hiddenstruct.sparse_training.layers import (
    DISTRIBUTIONS,
    SparseLayer,
    allocate_counts,
    init_sparse_masks,
    layer_counts,
    sparse_layers,
)
from hiddenstruct.sparse_training.methods import METHODS, SET, RigL, SparseMomentum, make_method
from hiddenstruct.sparse_training.regularization import (
    GroupLassoPenalty,
    L1Penalty,
    MagnitudeThreshold,
    neuron_rows,
)
from hiddenstruct.sparse_training.routes import (
    ROUTES,
    CostCounter,
    RouteOptions,
    RouteResult,
    train_route,
)
from hiddenstruct.sparse_training.schedules import (
    UPDATE_SCHEDULES,
    constant_fraction,
    cosine_fraction,
    get_update_schedule,
)
from hiddenstruct.sparse_training.structure import StructureTracker, mask_graph, structure_record

__all__ = [
    "DISTRIBUTIONS",
    "METHODS",
    "ROUTES",
    "SET",
    "UPDATE_SCHEDULES",
    "CostCounter",
    "DenseGradientRecorder",
    "DynamicSparsity",
    "GroupLassoPenalty",
    "L1Penalty",
    "MagnitudeThreshold",
    "RigL",
    "RouteOptions",
    "RouteResult",
    "SparseLayer",
    "SparseMomentum",
    "StructureTracker",
    "allocate_counts",
    "constant_fraction",
    "cosine_fraction",
    "dense_gradients",
    "get_update_schedule",
    "init_sparse_masks",
    "layer_counts",
    "make_method",
    "mask_graph",
    "neuron_rows",
    "reset_optimizer_state",
    "select_top",
    "sparse_layers",
    "structure_record",
    "train_route",
]
