"""Pruning scope: which weight tensors of a model may be pruned.

The one definition lives in :mod:`hiddenstruct.sparsity.tensors` (shared with sparse
training and the ξ report); this module keeps pruning's names importable from here.

Example::

    >>> targets = resolve_scope(model, "h2h")
    >>> sorted(targets)
    ['rnn.layers.0.weight_hh', ...]
"""

from hiddenstruct.sparsity.tensors import (
    ScopeSpec,
    Target,
    candidate_targets,
    current_masks,
    ensure_masks,
    resolve_scope,
)

__all__ = [
    "ScopeSpec",
    "Target",
    "candidate_targets",
    "current_masks",
    "ensure_masks",
    "resolve_scope",
]
