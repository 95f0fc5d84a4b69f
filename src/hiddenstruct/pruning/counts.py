"""Totals shared by the reports of a pruning step (unstructured per tensor, structured per
layer): what was alive before and after it, summed over the report's parts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class StepCounts:
    """``before``, ``after`` and ``pruned``, summed over :meth:`parts` (objects with
    ``before`` and ``after``)."""

    def parts(self) -> Sequence[Any]:
        raise NotImplementedError

    @property
    def before(self) -> int:
        return sum(part.before for part in self.parts())

    @property
    def after(self) -> int:
        return sum(part.after for part in self.parts())

    @property
    def pruned(self) -> int:
        return self.before - self.after
