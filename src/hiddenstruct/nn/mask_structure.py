"""Where a 2-D mask is non-zero, in the forms the native recurrent engine
(:mod:`hiddenstruct.nn.rnn_native`) reads: CSR row pointers and columns
(:class:`MaskStructure`), the diagonal blocks of units a ``W_hh`` mask lies in
(:class:`MaskBlocks`) and its density. Each is computed once per mask tensor and cached until
the mask changes (:func:`cached_values`)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class MaskStructure:
    """Where a 2-D mask is non-zero: CSR row pointers (int64 [rows + 1]) and columns (int32),
    and the boolean mask itself."""

    rows: torch.Tensor
    cols: torch.Tensor
    mask: torch.Tensor

    @property
    def density(self) -> float:
        return self.cols.numel() / max(self.mask.numel(), 1)


@dataclass(frozen=True)
class MaskBlocks:
    """A ``W_hh`` mask [G H, H] that lies in diagonal blocks of units (every gate): the
    engine computes its weight's gradient only in the blocks. ``bounds`` (int64): the
    number of blocks n, then their borders 0 = b_0 < ... <= b_n = H; ``mask`` (bool) where
    the mask is non-zero; ``share`` the blocks' share of the weight's entries."""

    bounds: torch.Tensor
    mask: torch.Tensor
    share: float

    @property
    def count(self) -> int:
        return len(self.bounds) - 2


def diagonal_blocks(mask: torch.Tensor) -> MaskBlocks | None:
    """The finest diagonal blocks of a ``W_hh`` mask [G H, H] (unit i's rows in every gate and
    column i belong to one block), or ``None`` for a mask of another shape. Cached like
    :func:`mask_structure`."""
    values = cached_values(mask)
    if "blocks" not in values:
        values["blocks"] = _diagonal_blocks(mask)
    return values["blocks"]


def _diagonal_blocks(mask: torch.Tensor) -> MaskBlocks | None:
    rows, hidden = mask.shape
    if hidden == 0 or rows % hidden:
        return None
    keep = mask.detach().to("cpu") != 0
    units = keep.reshape(rows // hidden, hidden, hidden).any(0)
    i, j = np.nonzero(units.numpy())
    reach = np.arange(hidden)
    np.maximum.at(reach, i, j)  # the farthest unit each unit connects to, either way
    np.maximum.at(reach, j, i)
    ends = np.nonzero(np.maximum.accumulate(reach) == np.arange(hidden))[0] + 1
    bounds = np.concatenate([[len(ends), 0], ends]).astype(np.int64)
    share = float((np.diff(bounds[1:]).astype(np.float64) ** 2).sum()) / hidden**2
    return MaskBlocks(torch.from_numpy(bounds), keep, share)


_cache: dict[int, tuple[weakref.ref, int, dict]] = {}


def cached_values(mask: torch.Tensor) -> dict:
    """A per-mask dict of derived values, emptied when the mask changes (any in-place change,
    except one through ``.data``, bumps its version)."""
    if mask.is_inference():  # no version counter: never cached
        return {}
    key = id(mask)
    entry = _cache.get(key)
    if entry is None or entry[0]() is not mask or entry[1] != mask._version:
        entry = (weakref.ref(mask, lambda _, k=key: _cache.pop(k, None)), mask._version, {})
        _cache[key] = entry
    return entry[2]


def mask_density(mask: torch.Tensor) -> float:
    """The share of ``mask``'s entries that are non-zero (cached like :func:`mask_structure`)."""
    values = cached_values(mask)
    if "density" not in values:
        values["density"] = int(torch.count_nonzero(mask)) / max(mask.numel(), 1)
    return values["density"]


def mask_structure(mask: torch.Tensor) -> MaskStructure:
    """The :class:`MaskStructure` of a 2-D ``mask``; cached per mask tensor until the mask
    changes (any in-place change, except one through ``.data``, bumps its version)."""
    values = cached_values(mask)
    if "structure" not in values:
        keep = mask.detach().to("cpu") != 0
        where = keep.nonzero()
        rows = torch.zeros(keep.shape[0] + 1, dtype=torch.int64)
        rows[1:] = torch.bincount(where[:, 0], minlength=keep.shape[0]).cumsum(0)
        values["structure"] = MaskStructure(rows, where[:, 1].to(torch.int32).contiguous(), keep)
    return values["structure"]
