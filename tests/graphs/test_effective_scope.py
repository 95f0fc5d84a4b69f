"""Effective sparsity reports the prunable tensors (the rows of sparsity_report), chosen by
``scope=``; paths still run through the whole model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs.effective import effective_sparsity, effective_weights, prune_ineffective
from hiddenstruct.nn import apply_mask, get_mask
from hiddenstruct.sparsity import sparsity_report
from hiddenstruct.zoo import mlp


def _mlp_with_a_dead_neuron() -> nn.Sequential:
    model = mlp([6, 5, 4, 2], seed=0)
    mask = torch.ones(5, 6, dtype=torch.bool)
    mask[2] = False  # hidden neuron 2 of the first layer has no live input
    apply_mask(model[1], "weight", mask)
    with torch.no_grad():
        model[1].bias.zero_()  # ... and emits relu(0) = 0
    return model


def test_a_scope_chooses_the_rows_and_paths_still_cross_the_other_tensors():
    model, x = _mlp_with_a_dead_neuron(), torch.randn(3, 6)
    everything = effective_sparsity(model, x)
    assert [layer.name for layer in everything.layers] == ["1.weight", "3.weight", "5.weight"]
    second = everything.layers[1]
    assert (second.live, second.effective) == (20, 16)  # column 2 reads the dead neuron
    scoped = effective_sparsity(model, x, scope=["3.weight"])
    assert scoped.layers == (second,) and scoped.total.effective == 16
    masks = effective_weights(model, x, scope=["3.weight"])
    assert list(masks) == ["3.weight"]
    assert torch.equal(masks["3.weight"], effective_weights(model, x)["3.weight"])
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    out = model(x)
    prune_ineffective(model, x, scope=["3.weight"])
    assert int(torch.count_nonzero(model[3].weight)) == 16  # unmasked: zeroed in place
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed == {"3.weight"}  # the dead neuron's own row (1.weight) is out of scope
    torch.testing.assert_close(model(x), out)


class Reused(nn.Module):
    """``late`` is defined first and called last; ``shared`` is called twice; ``spare`` never."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.late = nn.Linear(4, 2)
        self.shared = nn.Linear(4, 4)
        self.spare = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.late(torch.relu(self.shared(torch.relu(self.shared(x)))))


def test_rows_follow_the_module_order_once_per_tensor():
    model, x = Reused(), torch.randn(2, 4)
    with torch.no_grad():
        model.late.weight[:, 1] = 0  # the second use's neuron 1 reaches no output ...
    report = effective_sparsity(model, x)
    names = ["late.weight", "shared.weight", "spare.weight"]
    assert [layer.name for layer in report.layers] == names
    assert [layer.name for layer in sparsity_report(model).layers] == names
    # ... but the first use's neuron 1 feeds the second use: every entry of shared counts
    assert [(layer.live, layer.effective) for layer in report.layers] == [(6, 6), (16, 16),
                                                                           (9, 0)]  # fmt: skip
    spare, out = model.spare.weight.detach().clone(), model(x)
    prune_ineffective(model, x)
    assert torch.equal(model.spare.weight, spare)  # never read by the forward: left alone
    torch.testing.assert_close(model(x), out)


def test_a_single_layer_is_analysed():
    report = effective_sparsity(nn.Linear(3, 2), torch.randn(1, 3))
    assert [(layer.name, layer.effective) for layer in report.layers] == [("weight", 6)]


class Embedded(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embedding = nn.Embedding(5, 3)
        self.fc = nn.Linear(3, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.fc(self.embedding(tokens)).mean(1)


def test_a_masked_embedding_is_effective_where_its_feature_reaches_an_output():
    model, tokens = Embedded(), torch.randint(0, 5, (2, 4))
    apply_mask(model.embedding, "weight", torch.ones(5, 3, dtype=torch.bool))
    apply_mask(model.fc, "weight", torch.tensor([[1, 0, 1], [1, 0, 1]], dtype=torch.bool))
    report = effective_sparsity(model, tokens)
    assert [(layer.name, layer.live, layer.effective) for layer in report.layers] == [
        ("embedding.weight", 15, 10),  # feature 1 is read by nobody
        ("fc.weight", 4, 4),
    ]
    out = model(tokens)
    prune_ineffective(model, tokens)
    assert torch.equal(
        get_mask(model.embedding, "weight").any(dim=0), torch.tensor([1, 0, 1]).bool()
    )
    torch.testing.assert_close(model(tokens), out)


def test_a_tensor_the_walk_does_not_follow_is_named():
    model, tokens = Embedded(), torch.randint(0, 5, (2, 4))
    apply_mask(model.fc, "bias", torch.ones(2, dtype=torch.bool))  # masked: prunable
    with pytest.raises(UsageError, match="not fc.bias; choose a scope without it"):
        effective_sparsity(model, tokens)
    report = effective_sparsity(model, tokens, scope=["fc.weight"])
    assert [layer.name for layer in report.layers] == ["fc.weight"]
