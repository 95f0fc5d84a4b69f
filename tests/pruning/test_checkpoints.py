"""Iterative pruning lands on the requested levels without extra tiny steps (no sawtooth)."""

from __future__ import annotations

import pytest
import torch

from hiddenstruct.nn import MaskedDeepFFN
from hiddenstruct.pruning import StopCriteria, fixed_size, iterative_prune, relative
from hiddenstruct.pruning.engine import stretch_to_mark
from hiddenstruct.pruning.selection import Bucket, Count, Fraction, count_for

MARKS = (0.5, 0.6, 0.8, 0.9, 0.95)


@pytest.mark.parametrize("selection", ["class_blinded", "class_uniform", "class_distributed"])
@pytest.mark.parametrize("schedule,nominal", [("relative", 0.2), ("fixed", 0.07)])
def test_steps_hit_every_mark_and_are_never_tiny(selection, schedule, nominal):
    torch.manual_seed(0)
    model = MaskedDeepFFN(20, 4, [30, 10])
    total = sum(layer.weight.numel() for layer in model.layers)
    plan = relative(nominal) if schedule == "relative" else fixed_size(round(nominal * total))
    result = iterative_prune(
        model,
        "magnitude",
        selection,
        plan,
        stop=StopCriteria(target_zero_fraction=0.95, max_steps=200),
        checkpoints=MARKS,
    )
    removed = [total - s.remaining for s in result.steps]
    for mark in MARKS:
        assert round(mark * total) in removed
    remaining = total
    for step in result.steps:
        expected = round(nominal * remaining) if schedule == "relative" else round(nominal * total)
        assert step.pruned >= 0.5 * min(expected, remaining), (step, expected)
        remaining = step.remaining


def test_stretch_only_when_the_next_step_would_be_cut_below_half():
    assert stretch_to_mark(Count(10), 1000, 12) == Count(12)  # 2 left < 5: take them now
    assert stretch_to_mark(Count(10), 1000, 16) == Count(10)  # 6 left >= 5: a real step
    assert stretch_to_mark(Count(10), 1000, 8) == Count(10)  # reaches the mark (clipped)
    stretched = stretch_to_mark(Fraction(0.2), 256, 53, tensors=2)
    assert isinstance(stretched, Fraction) and count_for(stretched, 256) >= 53
    assert stretch_to_mark(Fraction(0.2), 1000, 300) == Fraction(0.2)
    assert stretch_to_mark(Bucket(1.0), 1000, 3) == Bucket(1.0)
