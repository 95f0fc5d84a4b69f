"""Recurrent models reject inputs that used to crash deep in PyTorch or pass silently
(docs/reliability.md)."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from hiddenstruct.nn import MaskedRNN
from hiddenstruct.nn.graphrnn import GraphRNN

MODELS = {
    "rnn": lambda: MaskedRNN(3, [4]),
    "gru": lambda: MaskedRNN(3, [4], mode="gru"),
    "lstm": lambda: MaskedRNN(3, [4], mode="lstm"),
    "graphrnn": lambda: GraphRNN(nx.path_graph(4), 3, seed=0),
}
NAN = torch.full((2, 3, 3), float("nan"))
CASES = [
    ("zero steps", torch.randn(2, 0, 3), None, "0 time steps"),
    ("empty batch", torch.randn(0, 3, 3), None, "batch is empty"),
    ("nan input", NAN, None, "NaN or infinite"),
    (
        "one inf",
        torch.randn(2, 3, 3).index_fill_(1, torch.tensor([1]), float("inf")),
        None,
        "infinite",
    ),
    ("+inf and -inf", torch.tensor([[[float("inf")] * 3, [float("-inf")] * 3]]), None, "infinite"),
    ("integer input", torch.ones(2, 3, 3, dtype=torch.long), None, "x.float()"),
    ("float lengths", torch.randn(2, 3, 3), torch.tensor([2.7, 3.0]), "whole numbers, got 2.7"),
    ("nan lengths", torch.randn(2, 3, 3), [float("nan"), 3.0], "whole numbers, got nan"),
]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(("case", "x", "lengths", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_recurrent_input_is_a_clear_value_error(name, case, x, lengths, message):
    model = MODELS[name]()
    calls = [lambda: model(x, lengths), lambda: model.encode(x, lengths)]
    for call in calls:
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.parametrize("name", MODELS)
def test_whole_float_lengths_still_work(name):
    model = MODELS[name]()
    x = torch.randn(2, 3, 3)
    expected = model.encode(x, torch.tensor([3, 2]))
    assert torch.allclose(model.encode(x, torch.tensor([3.0, 2.0])), expected)


@pytest.mark.parametrize("name", MODELS)
def test_finite_inputs_whose_sum_overflows_are_accepted(name):
    # the check's fast path (a finite sum) fails here; the full check must still pass it
    model = MODELS[name]()
    x = torch.full((2, 3, 3), 3e38)
    assert not torch.isfinite(x.sum())
    model.encode(x)
