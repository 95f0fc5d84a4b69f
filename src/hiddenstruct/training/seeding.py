"""Reproducibility and device helpers."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from hiddenstruct.errors import UsageError


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global RNGs (CPU and all CUDA devices)."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``; asking for a
    CUDA device that is not there is a usage error."""

    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return default_device()
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise UsageError(
            f"unknown device {name!r} ({err}); use auto, cpu, cuda or cuda:N"
        ) from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise UsageError(
                f"device {name!r} requested but this machine has {count} CUDA device(s); "
                "use --device cpu or auto"
            )
    return device


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` intra-op CPU threads (None: unchanged), then restore.

    Small models gain nothing from several threads, and on a busy machine spinning
    threads can slow them down by an order of magnitude; trials of tiny nets use 1.
    """
    if count is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(count)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
