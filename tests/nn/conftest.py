"""Fixtures of the model tests (one torch thread is set for all tests in tests/conftest.py)."""

from __future__ import annotations

import pytest
import torch

from hiddenstruct.nn import get_mask, native, rnn_native


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


@pytest.fixture(params=["native", "native-sparse", "pytorch"])
def engine(request, monkeypatch):
    """Runs a test on the C++ engine (``native``: the models' own choice of sparse
    products; ``native-sparse``: every masked weight on sparse products, whatever its
    density) and on the fallback (``pytorch``, ``HIDDENSTRUCT_NATIVE=0``: PyTorch's kernels on
    masked weights)."""
    if request.param != "pytorch" and native.library() is None:
        pytest.skip("no C++ compiler: the native kernels are not built")
    monkeypatch.setenv(native.ENV_SWITCH, "0" if request.param == "pytorch" else "1")
    if request.param == "native-sparse":
        monkeypatch.setattr(rnn_native, "FORCE_SPARSE", True)
    return request.param
