"""Selection and schedules: exact counts, shrink-only, ties, bucket rule (pure functions)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenstruct.errors import UsageError
from hiddenstruct.pruning import (
    Bucket,
    Count,
    Fraction,
    StopCriteria,
    bucket,
    class_blinded,
    class_distributed,
    class_uniform,
    fixed_size,
    get_selection,
    one_shot,
    relative,
)


def _random_problem(seed: int, shapes=((7, 5), (3, 4), (10,))):
    g = torch.Generator().manual_seed(seed)
    scores = {f"t{i}": torch.rand(s, generator=g) for i, s in enumerate(shapes)}
    masks = {k: torch.rand(v.shape, generator=g) > 0.3 for k, v in scores.items()}
    return scores, masks


def _alive(masks):
    return sum(int(m.sum()) for m in masks.values())


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    frac=st.floats(0.0, 1.0),
    name=st.sampled_from(["class_blinded", "class_uniform", "class_distributed"]),
)
def test_fraction_prunes_exact_count_and_only_shrinks(seed, frac, name):
    scores, masks = _random_problem(seed)
    new = get_selection(name)(scores, masks, frac)
    before, after = _alive(masks), _alive(new)
    for k in masks:
        assert not torch.any(new[k] & ~masks[k]), "a pruned weight came back"
    if name == "class_uniform":
        expected = sum(int(m.sum()) - int((frac * int(m.sum())) + 0.5) for m in masks.values())
        assert after == expected
    else:
        assert before - after == int(frac * before + 0.5)


def test_class_blinded_half_and_global_threshold():
    scores, masks = _random_problem(1)
    masks = {k: torch.ones_like(v, dtype=torch.bool) for k, v in scores.items()}
    new = class_blinded(scores, masks, 0.5)
    total = sum(m.numel() for m in masks.values())
    assert _alive(new) == total // 2
    kept = torch.cat([scores[k][new[k]] for k in scores])
    removed = torch.cat([scores[k][~new[k]] for k in scores])
    assert removed.max() <= kept.min()


def test_class_uniform_half_of_each_tensor():
    scores = {"a": torch.rand(10, 10), "b": torch.rand(4, 6), "c": torch.rand(8)}
    masks = {k: torch.ones_like(v, dtype=torch.bool) for k, v in scores.items()}
    new = class_uniform(scores, masks, 0.5)
    for k in scores:
        assert int(new[k].sum()) == scores[k].numel() // 2
        assert scores[k][~new[k]].max() <= scores[k][new[k]].min()


def test_class_uniform_count_is_apportioned_exactly():
    scores = {"a": torch.rand(10), "b": torch.rand(30)}
    masks = {k: torch.ones_like(v, dtype=torch.bool) for k, v in scores.items()}
    new = class_uniform(scores, masks, 8)
    assert (10 - int(new["a"].sum()), 30 - int(new["b"].sum())) == (2, 6)


def test_class_distributed_scales_by_std():
    # tensor "wide" has large spread, "narrow" small: distributed prunes relative to spread
    scores = {"wide": torch.linspace(0, 10, 11), "narrow": torch.linspace(1, 2, 11)}
    masks = {k: torch.ones(11, dtype=torch.bool) for k in scores}
    blinded = class_blinded(scores, masks, Count(6))
    distributed = class_distributed(scores, masks, Count(6))
    assert int((~blinded["narrow"]).sum()) > int((~distributed["narrow"]).sum())


def test_ties_are_broken_by_position_deterministically():
    scores = {"a": torch.zeros(6), "b": torch.zeros(4)}
    masks = {k: torch.ones_like(v, dtype=torch.bool) for k, v in scores.items()}
    new = class_blinded(scores, masks, Count(7))
    assert new["a"].tolist() == [False] * 6
    assert new["b"].tolist() == [False, True, True, True]


def test_pruned_weights_do_not_compete():
    scores = {"a": torch.tensor([0.0, 0.1, 5.0, 6.0])}
    masks = {"a": torch.tensor([False, False, True, True])}
    new = class_blinded(scores, masks, Count(1))
    assert new["a"].tolist() == [False, False, False, True]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), size=st.floats(0.01, 30.0))
def test_bucket_fills_but_only_the_crossing_weight_exceeds(seed, size):
    scores, masks = _random_problem(seed)
    new = class_blinded(scores, masks, Bucket(size))
    removed = torch.cat([scores[k][masks[k] & ~new[k]] for k in scores]).double()
    kept = torch.cat([scores[k][new[k]] for k in scores]).double()
    total = removed.sum()
    if kept.numel():
        assert total >= size - 1e-9, "bucket not filled although weights remain"
        assert total - removed.max() < size, "more than one weight crosses the bucket"
        assert removed.max() <= kept.min()
    assert removed.numel() >= 1


def test_bucket_needs_global_selection():
    scores, masks = _random_problem(0)
    with pytest.raises(UsageError):
        class_uniform(scores, masks, Bucket(1.0))


def test_amount_validation_and_unknown_selection():
    scores, masks = _random_problem(0)
    with pytest.raises(UsageError):
        class_blinded(scores, masks, 1.5)
    with pytest.raises(UsageError):
        class_blinded(scores, masks, Count(10_000))
    with pytest.raises(UsageError, match="class_blinded"):
        get_selection("nope")


def test_max_count_caps_the_step():
    scores, masks = _random_problem(3)
    new = class_blinded(scores, masks, 0.9, max_count=2)
    assert _alive(masks) - _alive(new) == 2


def test_schedules_are_pure_functions_of_the_step():
    assert [one_shot(0.3)(k) for k in range(2)] == [Fraction(0.3), None]
    assert relative(0.2)(0) == relative(0.2)(17) == Fraction(0.2)
    assert fixed_size(5)(3) == Count(5)
    assert bucket(2.0)(1) == Bucket(2.0)
    with pytest.raises(UsageError):
        relative(0.0)


def test_relative_schedule_prunes_p_of_remaining_each_step():
    scores = {"a": torch.rand(1000, generator=torch.Generator().manual_seed(0))}
    masks = {"a": torch.ones(1000, dtype=torch.bool)}
    schedule = relative(0.2)
    remaining = [1000]
    for step in range(5):
        masks = class_blinded(scores, masks, schedule(step))
        remaining.append(int(masks["a"].sum()))
    for before, after in zip(remaining, remaining[1:], strict=False):
        assert before - after == int(0.2 * before + 0.5)


def test_stop_criteria_limit():
    stop = StopCriteria(target_zero_fraction=0.9, min_weights=50)
    assert stop.max_prunable(remaining=1000, total=1000) == 900
    assert stop.max_prunable(remaining=120, total=1000) == 20
    assert StopCriteria(min_weights=200).max_prunable(150, 1000) == 0
