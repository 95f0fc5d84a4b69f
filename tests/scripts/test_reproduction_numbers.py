"""scripts/reproduction_numbers.py: the rules behind the reproduction report's tables."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "reproduction_numbers.py"


@pytest.fixture(scope="module")
def numbers():
    spec = importlib.util.spec_from_file_location("reproduction_numbers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _points(rows):
    columns = ["mode", "repeat", "base_accuracy", "base_above_chance", "scope", "p",
               "zero_fraction", "accuracy_pruned", "accuracy_retrained", "accuracy_final",
               "epochs_to_recover"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def test_safe_p_ends_at_the_first_level_any_repeat_fails(numbers, tmp_path):
    rows = []
    for repeat, accs in ((0, [1.0, 0.995, 0.96, 0.99]), (1, [1.0, 0.98, 1.0, 1.0])):
        for p, acc in zip((0.1, 0.2, 0.3, 0.4), accs, strict=True):
            retrained = "" if acc >= 0.99 else "0.9950"
            rows.append(["GRU", repeat, 1.0, True, "both", p, p, acc, retrained, acc, 0])
    points = _points(rows)
    points.to_csv(tmp_path / "points.csv", index=False)
    pd.DataFrame({"below_chance": [0]}).to_csv(tmp_path / "summary.csv", index=False)
    # 1 point: repeat 1 drops 2 points at 0.2, so 0.1 is the last safe level; 5 points:
    # repeat 0 drops 4 at 0.3 (still within 5), so 0.4 — a later recovery does not count
    assert numbers._tolerated(points, 0.01) == 0.1
    assert numbers._tolerated(points, 0.05) == 0.4
    assert numbers._epochs(points, 0.2, 0.01) == "1"
    # the last level within 1 point in both repeats is 0.4 (0.3 fails in repeat 0)
    assert numbers._last_within(points, 0.01) == 0.4
    text = numbers.prune_rnn(tmp_path)
    assert "| GRU | both | 1.0000 ± 0.0000 (n=2) | 0.1 | 0.4 | 0.4 |" in text


def test_never_recovered_is_shown_with_its_cap(numbers):
    points = _points([["LSTM", 0, 1.0, True, "h2h", 1.0, 1.0, 0.5, "0.5 0.6 0.7", 0.7, None]])
    assert numbers._epochs(points, 1.0, 0.01) == ">3"


def test_ffn_first_step_beyond_p_and_paired_comparison(numbers, tmp_path):
    rows = []
    for repeat in range(3):
        for method, drop in (("class_blinded", 0.0), ("class_uniform", 0.02 + 0.01 * repeat)):
            for step, zf in enumerate((0.0, 0.5, 0.79, 0.83)):
                acc = 0.98 - (drop if step else 0.0)
                rows.append(["100", "relative", method, True, repeat, step, zf, acc])
    curves = pd.DataFrame(
        rows,
        columns=["architecture", "schedule", "method", "retrain", "repeat", "step",
                 "zero_fraction", "accuracy"],
    )  # fmt: skip
    curves.to_csv(tmp_path / "curves.csv", index=False)
    text = numbers.prune_ffn(tmp_path)
    # 80 % is first reached at 0.83: the cell says so
    assert "[at 0.830]" in text
    # class-uniform minus class-blinded: -0.02, -0.03, -0.04 → mean -0.03, std 0.01
    assert "| 100 | relative | True | class_uniform | -0.0300 ± 0.0100 (n=3) |" in text
    assert numbers.mean_std([0.5]) == "0.5000 (n=1)"
    assert numbers.mean_std([]) == "NaN (no value)"
