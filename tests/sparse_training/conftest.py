"""Tiny models and loaders shared by the sparse-training tests (as fixtures)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from hiddenstruct.nn import MaskedDeepFFN


def blobs_loader(n: int = 96, features: int = 20, classes: int = 4, batch: int = 8, seed: int = 0):
    """A learnable classification problem (class-dependent means), unshuffled."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    centers = torch.randn(classes, features, generator=g) * 2
    x = centers[y] + torch.randn(n, features, generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=batch)


def tiny_ffn(seed: int = 0) -> MaskedDeepFFN:
    torch.manual_seed(seed)
    return MaskedDeepFFN(20, 4, [16, 12])


def live_masks(model) -> dict[str, torch.Tensor]:
    from hiddenstruct.nn.masking import masks

    return {k: v.detach().clone().bool() for k, v in masks(model).items()}


@pytest.fixture
def loader():
    return blobs_loader()


@pytest.fixture
def make_ffn():
    return tiny_ffn


@pytest.fixture
def snapshot():
    return live_masks
