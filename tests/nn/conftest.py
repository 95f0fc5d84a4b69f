"""Fixtures of the model tests."""

from __future__ import annotations

import pytest
import torch

from hiddenstruct.nn import get_mask


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny recurrent ops: one intra-op thread avoids oversubscription stalls on shared CPUs
    (restored afterwards, in case a test changed it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def assert_mask_gradients():
    """Check a recurrent model after a backward: every masked i2h/h2h entry got zero gradient
    and some unmasked entry got a non-zero one, in every layer."""

    def check(model) -> None:
        for layer in model.layers:
            for name in ("weight_ih", "weight_hh"):
                grad = layer.parametrizations[name].original.grad
                mask = get_mask(layer, name)
                assert torch.count_nonzero(grad[mask == 0]) == 0
                assert torch.count_nonzero(grad[mask == 1]) > 0

    return check
