"""Update-fraction schedules: pure functions of the step (no state, so a resumed run repeats them).

``fraction(step, initial, stop_step)`` is the fraction of each layer's live weights that an
update at ``step`` drops (and regrows); 0 at and after ``stop_step`` (None: never stops).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from hiddenstruct.errors import UsageError

__all__ = ["UPDATE_SCHEDULES", "constant_fraction", "cosine_fraction", "get_update_schedule"]

UpdateSchedule = Callable[[int, float, "int | None"], float]


def constant_fraction(step: int, initial: float, stop_step: int | None) -> float:
    """``initial`` until ``stop_step`` (SET's fixed ζ), then 0."""
    return initial if stop_step is None or step < stop_step else 0.0


def cosine_fraction(step: int, initial: float, stop_step: int | None) -> float:
    """``initial/2 · (1 + cos(π step / stop_step))`` before ``stop_step``, then 0 (RigL's decay)."""
    if stop_step is None:
        raise UsageError("the cosine update schedule needs a stop step (stop_step or total steps)")
    if step >= stop_step:
        return 0.0
    return initial / 2.0 * (1.0 + math.cos(math.pi * step / stop_step))


#: Update schedules by name.
UPDATE_SCHEDULES: dict[str, UpdateSchedule] = {
    "constant": constant_fraction,
    "cosine": cosine_fraction,
}


def get_update_schedule(name: str) -> UpdateSchedule:
    """The schedule called ``name``; unknown names fail listing the valid ones."""
    try:
        return UPDATE_SCHEDULES[name]
    except KeyError:
        raise UsageError(
            f"unknown update schedule {name!r}; valid: {sorted(UPDATE_SCHEDULES)}"
        ) from None
