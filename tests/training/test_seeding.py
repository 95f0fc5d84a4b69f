"""seed_everything seeds every RNG; default_device follows CUDA availability."""

from __future__ import annotations

import random

import numpy as np
import torch

from hiddenstruct.training import default_device, seed_everything, torch_threads


def _draw():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_same_seed_same_draws_and_different_seed_differs():
    seed_everything(11)
    first = _draw()
    seed_everything(11)
    assert _draw() == first
    seed_everything(12)
    assert _draw() != first


def test_default_device_matches_cuda_availability():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert default_device().type == expected


def test_torch_threads_sets_and_restores():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
