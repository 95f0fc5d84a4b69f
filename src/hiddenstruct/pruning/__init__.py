"""Pruning: criteria (scores), selection (scores → masks), schedules and the engine.

Pruning is the drop-only :class:`Pruner` of the one mask concept
(:mod:`hiddenstruct.sparsity`); :func:`prune` is one update of it.

Example::

    >>> from hiddenstruct.pruning import prune
    >>> report = prune(model, "magnitude", "class_blinded", 0.8)
    >>> report.nonzero_fraction_after
    0.2
"""

from hiddenstruct.pruning.criteria import (
    CRITERIA,
    Criterion,
    Saliency,
    criterion_options,
    make_criterion,
)
from hiddenstruct.pruning.engine import (
    THRESHOLDS,
    IterativeConfig,
    IterativeResult,
    PruneStep,
    iterative_prune,
    percentile_prune,
    prune,
)
from hiddenstruct.pruning.lobs import LOBS_UPDATES, LOBSCriterion
from hiddenstruct.pruning.obd import OBD_METHODS, UnsupportedModelError, hessian_diagonal
from hiddenstruct.pruning.pruner import Pruner, PruneReport, TensorCounts
from hiddenstruct.pruning.retrain import RetrainPolicy, retrain, rewind, snapshot_weights
from hiddenstruct.pruning.schedules import (
    SCHEDULES,
    StopCriteria,
    bucket,
    fixed_size,
    make_schedule,
    one_shot,
    percentages,
    relative,
)
from hiddenstruct.pruning.selection import (
    SELECTIONS,
    Bucket,
    Count,
    Fraction,
    class_blinded,
    class_distributed,
    class_uniform,
    get_selection,
    spread,
)
from hiddenstruct.pruning.structured import (
    STRUCTURED_CRITERIA,
    STRUCTURED_SELECTIONS,
    StructuredReport,
    group_scores,
    prune_structured,
    prune_structured_schedule,
)
from hiddenstruct.sparsity.tensors import PrunableTensor, Target, ensure_masks, resolve_scope

__all__ = [
    "CRITERIA",
    "LOBS_UPDATES",
    "OBD_METHODS",
    "SCHEDULES",
    "SELECTIONS",
    "STRUCTURED_CRITERIA",
    "STRUCTURED_SELECTIONS",
    "StructuredReport",
    "group_scores",
    "prune_structured",
    "prune_structured_schedule",
    "THRESHOLDS",
    "Bucket",
    "Count",
    "Criterion",
    "Fraction",
    "IterativeConfig",
    "IterativeResult",
    "LOBSCriterion",
    "PrunableTensor",
    "PruneReport",
    "Pruner",
    "PruneStep",
    "RetrainPolicy",
    "Saliency",
    "StopCriteria",
    "Target",
    "TensorCounts",
    "UnsupportedModelError",
    "bucket",
    "class_blinded",
    "class_distributed",
    "class_uniform",
    "criterion_options",
    "ensure_masks",
    "fixed_size",
    "get_selection",
    "hessian_diagonal",
    "iterative_prune",
    "make_criterion",
    "make_schedule",
    "one_shot",
    "percentages",
    "percentile_prune",
    "prune",
    "relative",
    "resolve_scope",
    "retrain",
    "rewind",
    "snapshot_weights",
    "spread",
]
