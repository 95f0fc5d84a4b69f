"""One mask concept: ξ, the prunable tensors of a module, budgets, top-k and mask updaters.

* :mod:`.measure`: the paper's ξ — :func:`nonzero_fraction`, :func:`zero_fraction`,
  :func:`grouped_nonzero_fraction`, :func:`sparsity_report`;
* :mod:`.tensors`: :class:`PrunableTensor` (``masked_weight``, ``raw_weight``,
  ``current_mask``) and the one definition of which tensors are prunable,
  :func:`prunable_tensors` (scopes ``None``/``"all"``, ``"masked"``, ``"i2h"``, ``"h2h"``,
  ``"both"``, a list of names or a predicate);
* :mod:`.allocation`: a budget spread over tensors — :func:`allocate_counts`,
  :func:`layer_counts` (``"uniform"`` / ``"erdos_renyi"``);
* :mod:`.topk`: :func:`lowest` (pruning) and :func:`select_top` (sparse training);
* :mod:`.updater`: :class:`MaskUpdater`, scores → masks on a schedule, the base of
  :class:`hiddenstruct.pruning.Pruner` and :class:`hiddenstruct.sparse_training.DynamicSparsity`.

See docs/pruning.md ("One mask concept").
"""

from hiddenstruct.sparsity.allocation import DISTRIBUTIONS, allocate_counts, layer_counts
from hiddenstruct.sparsity.measure import (
    LayerSparsity,
    SparsityReport,
    grouped_nonzero_fraction,
    nonzero_fraction,
    sparsity_report,
    zero_fraction,
)
from hiddenstruct.sparsity.tensors import (
    PrunableTensor,
    ScopeSpec,
    SparseLayer,
    Target,
    current_masks,
    ensure_masks,
    prunable_tensors,
    resolve_scope,
    sparse_layers,
)
from hiddenstruct.sparsity.topk import lowest, select_top
from hiddenstruct.sparsity.updater import MaskUpdater

__all__ = [
    "DISTRIBUTIONS",
    "LayerSparsity",
    "MaskUpdater",
    "PrunableTensor",
    "ScopeSpec",
    "SparseLayer",
    "SparsityReport",
    "Target",
    "allocate_counts",
    "current_masks",
    "ensure_masks",
    "grouped_nonzero_fraction",
    "layer_counts",
    "lowest",
    "nonzero_fraction",
    "prunable_tensors",
    "resolve_scope",
    "select_top",
    "sparse_layers",
    "sparsity_report",
    "zero_fraction",
]
