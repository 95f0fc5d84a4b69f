"""One type and one definition of the prunable tensors, shared by pruning, sparse training
and the ξ report."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn import MaskedDeepFFN, MaskedRNN, SequenceClassifier, apply_mask
from hiddenstruct.pruning import prune, resolve_scope
from hiddenstruct.sparse_training import init_sparse_masks, sparse_layers
from hiddenstruct.sparsity import (
    PrunableTensor,
    SparseLayer,
    Target,
    nonzero_fraction,
    prunable_tensors,
    sparsity_report,
)


def _mixed() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Embedding(10, 4), nn.Conv1d(4, 4, 3), nn.Linear(4, 2))


def test_embedding_conv1d_linear_give_one_tensor_set_everywhere():
    expected = ["1.weight", "2.weight"]  # never the embedding, never a bias
    assert list(prunable_tensors(_mixed())) == expected
    assert list(resolve_scope(_mixed())) == expected
    assert [layer.name for layer in sparse_layers(_mixed())] == expected
    assert [layer.name for layer in sparsity_report(_mixed()).layers] == expected
    model = _mixed()
    report = prune(model, "magnitude", "class_blinded", 0.5)
    assert [t.name for t in report.tensors] == expected
    # ξ counts what pruning pruned, so it equals the report's fraction after the step
    assert nonzero_fraction(model) == pytest.approx(report.nonzero_fraction_after)


def test_sparse_training_masks_the_same_tensors_pruning_prunes_in_a_plain_model():
    model = _mixed()
    init_sparse_masks(model, 0.5, seed=0)
    assert list(prunable_tensors(model, "masked")) == list(prunable_tensors(_mixed()))


def test_masked_weight_and_raw_weight_are_named_apart():
    layer = nn.Linear(3, 2)
    apply_mask(layer, "weight", torch.tensor([[1.0, 0, 1], [0, 1, 1]]))
    (tensor,) = prunable_tensors(layer).values()
    assert isinstance(tensor, PrunableTensor)
    raw = tensor.raw_weight
    assert isinstance(raw, nn.Parameter)
    assert torch.equal(tensor.masked_weight, raw.detach() * tensor.current_mask)
    assert tensor.numel == 6 and tensor.live == 4


def test_legacy_accessors_of_target_and_sparse_layer_keep_working():
    model = MaskedDeepFFN(4, 2, [3])
    target = resolve_scope(model)["layers.0.weight"]
    layer = sparse_layers(model)[0]
    assert isinstance(target, Target) and isinstance(layer, SparseLayer)
    assert torch.equal(target.weight(), target.masked_weight)
    assert target.original() is target.raw_weight
    assert torch.equal(target.mask(), target.current_mask)
    assert layer.weight is layer.raw_weight
    assert layer.mask.data_ptr() == layer.current_mask.data_ptr()  # the buffer itself


def test_masked_scope_keeps_the_models_choice():
    torch.manual_seed(0)
    model = SequenceClassifier(MaskedRNN(4, [5], "LSTM"), vocab_size=8, num_classes=2)
    masked = prunable_tensors(model, "masked")
    assert set(masked) == {"rnn.layers.0.weight_ih", "rnn.layers.0.weight_hh"}
    assert set(masked) < set(prunable_tensors(model))  # the readout is prunable, not masked
    assert list(prunable_tensors(model, "h2h")) == ["rnn.layers.0.weight_hh"]


def test_bad_scopes_fail_with_the_valid_choices():
    with pytest.raises(
        UsageError,
        match="unknown pruning scope 'weights'; valid: all, masked, both, i2h, h2h or a list of names$",
    ):
        prunable_tensors(_mixed(), "weights")
    with pytest.raises(UsageError, match="are not prunable tensors"):
        prunable_tensors(_mixed(), ["0.weight"])
    with pytest.raises(UsageError, match="selects no tensor"):
        resolve_scope(_mixed(), "h2h")
