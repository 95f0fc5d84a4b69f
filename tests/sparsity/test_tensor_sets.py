"""Every tool names the same tensors: ``prunable_tensors``, ``sparsity_report``, ``prune``,
``prune_structured`` (its layers' producing modules) and ``effective_sparsity``, by default
and under one ``scope``."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from hiddenstruct.graphs.effective import effective_sparsity
from hiddenstruct.nn import dependency_graph
from hiddenstruct.pruning import prune, prune_structured
from hiddenstruct.sparsity import prunable_tensors, sparsity_report
from hiddenstruct.zoo import LeNet5, RNNTextClassifier, mlp


class TokenConv(nn.Module):
    """Embedding → Conv1d → Linear → Linear, on token ids (a forward torch.fx can trace)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embedding = nn.Embedding(20, 4)
        self.conv = nn.Conv1d(4, 6, 3)
        self.fc = nn.Linear(6 * 5, 8)
        self.out = nn.Linear(8, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv(self.embedding(tokens).transpose(1, 2)))
        return self.out(torch.relu(self.fc(x.flatten(1))))


class Attention(nn.Module):
    """``nn.MultiheadAttention`` (its q/k/v rows are a head group's own weights) and a head."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.attn(x, x, x, need_weights=False)[0][:, 0])


def _models() -> dict[str, tuple[nn.Module, torch.Tensor, list[str]]]:
    """``(model, example input, a scope of some of its tensors)``."""
    gen = torch.Generator().manual_seed(0)
    return {
        "tokens": (TokenConv(), torch.randint(0, 20, (2, 7), generator=gen), ["fc.weight"]),
        "lenet5": (LeNet5(), torch.randn(2, 1, 28, 28, generator=gen), ["conv2.weight", "fc2.weight"]),
        "mlp": (mlp([12, 10, 8, 3]), torch.randn(2, 12, generator=gen), ["3.weight", "5.weight"]),
        "gru": (
            RNNTextClassifier(vocab=30, embed=6, hidden=8, cell="GRU"),
            torch.randint(0, 30, (2, 5), generator=gen),
            ["rnn.weight_ih_l0", "rnn.weight_hh_l0"],
        ),
    }  # fmt: skip


def _module_names(model: nn.Module, names) -> set[str]:
    tensors = prunable_tensors(model)
    of = {id(m): n for n, m in model.named_modules()}
    return {of[id(tensors[name].module)] for name in names}


def _structured_modules(report) -> set[str]:
    """The producing modules of the layers a structured step had in play."""
    return {part.split(":")[0] for layer in report.layers for part in layer.layer.split("+")}


def _sets(model: nn.Module, x: torch.Tensor, scope) -> dict[str, list[str]]:
    report = prune(copy.deepcopy(model), "magnitude", "class_blinded", 0.3, scope=scope)
    return {
        "prunable_tensors": list(prunable_tensors(model, scope)),
        "sparsity_report": [layer.name for layer in sparsity_report(model, scope).layers],
        "prune": [t.name for t in report.tensors],
        "effective_sparsity": [
            layer.name for layer in effective_sparsity(model, x, scope=scope).layers
        ],
    }


@pytest.mark.parametrize("name", sorted(_models()))
def test_every_tool_names_the_prunable_tensors_by_default_and_under_a_scope(name):
    model, x, scope = _models()[name]
    everything = list(prunable_tensors(model))
    assert len(everything) > len(scope)
    for chosen, expected in ((None, everything), (scope, scope)):
        sets = _sets(model, x, chosen)
        assert sets == {tool: expected for tool in sets}, chosen
        pruned = copy.deepcopy(model)
        report = prune_structured(pruned, 0.5, example_inputs=x, scope=chosen)
        assert report.pruned > 0
        assert _structured_modules(report) <= _module_names(model, expected)
        in_play = {layer.layer for layer in report.layers}
        every_layer = {g.layer for g in dependency_graph(model, x).groups}
        assert set(report.left_alone) == every_layer - in_play
        if chosen is None:
            assert report.left_alone == ()


def test_the_groups_of_attention_heads_own_default_prunable_weights_only():
    model, x = Attention().eval(), torch.randn(2, 3, 8)
    graph = dependency_graph(model, x)
    prunable = {(id(t.module), t.tensor_name) for t in prunable_tensors(model).values()}
    owned = {
        (id(holder), tensor)
        for group in graph.groups
        for module, holder, tensor, entry in graph.located(group)
        if not entry.reader and getattr(holder, tensor).dim() >= 2
    }
    assert owned and owned <= prunable  # in_proj_weight: the heads' q/k/v rows
    assert list(prunable_tensors(model)) == ["attn.in_proj_weight", "attn.out_proj.weight",
                                             "head.weight"]  # fmt: skip
    report = prune_structured(model, 0.5, example_inputs=x, unit="head")
    assert [(c.layer, c.before, c.after) for c in report.layers] == [("attn:head", 2, 1)]
    assert report.left_alone == ()
