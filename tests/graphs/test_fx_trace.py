"""fx_trace helpers: the tensors of a nested model output."""

from __future__ import annotations

import pytest
import torch

from hiddenstruct.errors import UsageError
from hiddenstruct.graphs.fx_trace import output_tensors


def test_output_tensors_walk_tuples_lists_and_dicts_in_order():
    a, b, c, d = (torch.full((1,), float(k)) for k in range(4))
    output = (a, [b, {"x": c, "skip": None, "y": (d, 3)}])
    assert [float(t) for t in output_tensors(output)] == [0.0, 1.0, 2.0, 3.0]
    assert output_tensors(a)[0] is a
    with pytest.raises(
        UsageError, match="^compact compares tensor outputs; the model returned NoneType$"
    ):
        output_tensors(output, "compact")
