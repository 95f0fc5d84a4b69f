"""Honest statistics: NaN with a reason for undefined values, mean ± std over repeats, chance."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from hiddenstruct import stats


def test_summary_of_repeats_uses_the_sample_std_and_counts():
    s = stats.summarize([0.9, 0.8, 1.0])
    assert (s.mean, s.n, s.reason) == (pytest.approx(0.9), 3, None)
    assert s.std == pytest.approx(float(np.std([0.9, 0.8, 1.0], ddof=1)))
    assert s.format(2) == "0.90 ± 0.10 (n=3)"
    assert s.columns("acc") == {"acc_mean": s.mean, "acc_std": s.std, "acc_n": 3, "acc_notes": ""}


def test_one_repeat_has_no_std_and_none_has_no_mean():
    one = stats.summarize([0.7])
    assert one.mean == 0.7 and math.isnan(one.std) and one.n == 1
    assert one.reason == stats.ONE_REPEAT and one.columns("a")["a_notes"] == stats.ONE_REPEAT
    none = stats.summarize([None, float("nan")])
    assert math.isnan(none.mean) and none.n == 0 and none.reason == stats.NO_VALUES
    # failed (None) or diverged (NaN) repeats are not counted as values
    assert stats.summarize([0.5, None, float("inf"), 0.7]).n == 2


def test_pearson_reasons():
    x, y = np.arange(5.0), np.array([1.0, 3, 2, 5, 4])
    assert stats.pearson(x, y).value == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert stats.pearson(x, y).reason is None
    assert stats.pearson(np.ones(5), y).reason == stats.CONSTANT_FEATURE
    assert stats.pearson(x, np.ones(5)).reason == stats.CONSTANT_TARGET
    assert stats.pearson([1.0], [2.0]).reason == stats.TOO_FEW_ROWS
    assert all(math.isnan(stats.pearson(a, b).value) for a, b in [(np.ones(5), y), (x, np.ones(5))])


def test_r2_on_a_constant_target_is_nan_not_one():
    perfect = stats.r2([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    assert math.isnan(perfect.value) and perfect.reason == stats.CONSTANT_TARGET
    assert stats.r2([1.0, 2, 3], [1.0, 2, 3]).value == 1.0
    assert stats.r2([1.0, 2, 3], [2.0, 2, 2]).value == pytest.approx(0.0)
    assert stats.mae([1.0, 2], [2.0, 4]).value == 1.5
    assert stats.mae([], []).reason == stats.NO_VALUES


def test_chance_check_and_tolerated_p():
    assert stats.chance_level([0, 1, 1, 1]) == 0.75
    good = stats.chance_check(0.99, chance=0.5, margin=0.05)
    assert good.above_chance and good.reason is None
    assert stats.tolerated_or_undefined(0.8, good, "GRU").value == 0.8
    bad = stats.chance_check(0.52, chance=0.5, margin=0.05)
    assert not bad.above_chance and "does not beat chance 0.5000" in bad.reason
    with pytest.warns(stats.ChanceLevelWarning, match="GRU seed 0"):
        value = stats.tolerated_or_undefined(0.9, bad, "GRU seed 0")
    assert math.isnan(value.value) and value.reason == bad.reason
    assert not stats.chance_check(None, 0.5).above_chance
    with pytest.raises(ValueError):
        stats.chance_check(0.9, 0.5, margin=1.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats.tolerated_or_undefined(0.3, good, "no warning when above chance")


def test_notes_are_distinct_and_joined():
    assert stats.notes(None, "a", ["b", "a"], "") == "a; b"
    assert stats.notes() == ""


def test_summarize_groups_over_repeats():
    rows = [
        {"mode": "GRU", "p": 0.5, "acc": 0.9},
        {"mode": "GRU", "p": 0.5, "acc": 0.7},
        {"mode": "LSTM", "p": 0.5, "acc": 0.8},
        {"mode": "LSTM", "p": 0.5, "acc": None},
    ]
    gru, lstm = stats.summarize_groups(rows, ["mode", "p"], ["acc"])
    assert (gru["mode"], gru["acc_n"], gru["acc_mean"]) == ("GRU", 2, pytest.approx(0.8))
    assert gru["acc_std"] == pytest.approx(float(np.std([0.9, 0.7], ddof=1)))
    assert lstm["acc_n"] == 1 and math.isnan(lstm["acc_std"])
    assert lstm["acc_notes"] == stats.ONE_REPEAT
