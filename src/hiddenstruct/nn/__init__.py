"""Modules with explicit sparse structure."""

from hiddenstruct.nn.activations import ACTIVATIONS, get_activation
from hiddenstruct.nn.attention import CompactMultiheadAttention
from hiddenstruct.nn.celldag import CellDAGNet, conv_cell
from hiddenstruct.nn.classifier import SequenceClassifier
from hiddenstruct.nn.compact import compact
from hiddenstruct.nn.dependency import DependencyGraph, Group, Member, dependency_graph
from hiddenstruct.nn.ffn import MaskedDeepFFN
from hiddenstruct.nn.graphnet import GraphNet, graphnet_parameter_count
from hiddenstruct.nn.graphrnn import GraphRNN
from hiddenstruct.nn.interop import from_torch_prune, remove_masks
from hiddenstruct.nn.learnable import (
    LearnableMask,
    apply_learnable_mask,
    apply_learnable_masks,
    expected_density,
    harden,
    learnable_masks,
    learned_graph,
)
from hiddenstruct.nn.masking import (
    Mask,
    apply_mask,
    apply_masks,
    get_mask,
    is_masked,
    load_state_dict,
    masked_modules,
    masks,
    original,
    remove_mask,
    validate_mask,
)
from hiddenstruct.nn.rnn import MaskedRNN
from hiddenstruct.nn.scalable import ScalableDAN
from hiddenstruct.nn.sparse import SparseFFN, SparseGraphNet, to_sparse
from hiddenstruct.nn.speed import SpeedReport, Timing, speed_report
from hiddenstruct.recurrent_modes import MODES as RECURRENT_MODES

__all__ = [
    "ACTIVATIONS",
    "MaskedDeepFFN",
    "GraphNet",
    "GraphRNN",
    "MaskedRNN",
    "RECURRENT_MODES",
    "SequenceClassifier",
    "graphnet_parameter_count",
    "compact",
    "CompactMultiheadAttention",
    "DependencyGraph",
    "Group",
    "Member",
    "dependency_graph",
    "to_sparse",
    "SpeedReport",
    "Timing",
    "speed_report",
    "SparseFFN",
    "SparseGraphNet",
    "get_activation",
    "Mask",
    "apply_mask",
    "apply_masks",
    "get_mask",
    "is_masked",
    "load_state_dict",
    "masked_modules",
    "masks",
    "original",
    "remove_mask",
    "remove_masks",
    "from_torch_prune",
    "validate_mask",
    "CellDAGNet",
    "conv_cell",
    "LearnableMask",
    "apply_learnable_mask",
    "apply_learnable_masks",
    "expected_density",
    "harden",
    "learnable_masks",
    "learned_graph",
    "ScalableDAN",
]
