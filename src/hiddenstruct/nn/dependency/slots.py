"""Slots: the bookkeeping of the dependency analysis.

Every tensor value carries, for its unit dimension, one slot per entry (:class:`Info`);
slots form a union-find (:class:`Analysis`: a residual add unites two slots), carry the
members that make or read them, and may be pinned (never pruned). :func:`flatten_info` and
:func:`index_info` say where a unit dimension goes under a flatten or an index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.fx

from hiddenstruct.nn.dependency.groups import Group, Member, unit_kind


@dataclass(frozen=True)
class Info:
    """Slots of one tensor value: ``slots[k]`` is the slot of entry ``k`` along ``dim``."""

    ndim: int
    dim: int
    slots: tuple[int, ...]


class Analysis:
    """Slots (a union-find), the members they carry and the pinned ones, filled per node."""

    def __init__(self, gm: torch.fx.GraphModule) -> None:
        self.gm = gm
        self.parent: list[int] = []
        self.members: list[list[Member]] = []
        self.pinned: set[int] = set()
        self.notes: list[str] = []

    # union-find ------------------------------------------------------------------------
    def new(self, members: Sequence[Member | None], pinned: bool = False) -> tuple[int, ...]:
        out = []
        for m in members:
            slot = len(self.parent)
            self.parent.append(slot)
            self.members.append([m] if m is not None else [])
            if pinned:
                self.pinned.add(slot)
            out.append(slot)
        return tuple(out)

    def find(self, s: int) -> int:
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[b] = a

    def pin(self, info, why: str | None = None) -> None:
        """Pin every slot in ``info`` (an :class:`Info`, or nested tuples/lists of them)."""
        if isinstance(info, Info):
            self.pinned.update(info.slots)
            if why and info.slots:
                self.notes.append(why)
        elif isinstance(info, (tuple, list)):
            for item in info:
                self.pin(item, why)

    def attach(self, slots, module: str, axis: str) -> None:
        for k, s in enumerate(slots):
            self.members[s].append(Member(module, axis, k))

    # groups -------------------------------------------------------------------------------
    def groups(self) -> tuple[list[Group], int]:
        classes: dict[int, list[Member]] = {}
        pinned_roots = {self.find(s) for s in self.pinned}
        for s in range(len(self.parent)):
            classes.setdefault(self.find(s), []).extend(self.members[s])
        out, pinned = [], 0
        for root, members in classes.items():
            producers = [m for m in members if m.produces]
            if not producers:
                continue
            if root in pinned_roots:
                pinned += 1
                continue
            module = self.gm.get_submodule(producers[0].module)
            layer = "+".join(sorted({f"{m.module}:{m.axis}" for m in producers}))
            out.append(Group(unit_kind(module), layer, tuple(dict.fromkeys(members))))
        return out, pinned


def flatten_info(info: Info, shape, start: int, end: int, out_ndim: int) -> Info:
    start, end = start % len(shape), end % len(shape)
    if info.dim < start:
        return Info(out_ndim, info.dim, info.slots)
    if info.dim > end:
        return Info(out_ndim, info.dim - (end - start), info.slots)
    span = shape[start : end + 1]
    ids = torch.tensor(info.slots).reshape(
        [1] * (info.dim - start) + [len(info.slots)] + [1] * (end - info.dim)
    )
    return Info(out_ndim, start, tuple(ids.expand(*span).reshape(-1).tolist()))


def index_info(info: Info, index, in_ndim: int, out_ndim: int) -> Info | None:
    """Where ``info``'s dim goes under ``tensor[index]``; ``None`` if it is indexed itself."""
    index = index if isinstance(index, tuple) else (index,)
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    expanded = []
    for i in index:
        expanded += [slice(None)] * (in_ndim - used) if i is Ellipsis else [i]
    expanded += [slice(None)] * (in_ndim - sum(1 for i in expanded if i is not None))
    src = out = 0
    for i in expanded:
        if i is None:
            out += 1
            continue
        if src == info.dim:
            if i != slice(None):
                return None
            return Info(out_ndim, out, info.slots)
        if isinstance(i, int):
            src += 1
        elif isinstance(i, slice):
            src, out = src + 1, out + 1
        else:
            return None
    return None
