"""Honest statistics: undefined values are NaN *with a stated reason*, never a number.

Pure functions on numbers (numpy only), shared by ``predict``, ``nas`` and the experiments:

* :func:`summarize` — mean ± std and n over repeats (std is NaN for one repeat);
* :func:`pearson` — Pearson's r, NaN for a constant feature or target;
* :func:`r2` / :func:`mae` — held-out scores, R² NaN on a constant target;
* :func:`chance_check` — does a base model beat chance by a margin?
* :func:`notes` — join reasons into one CSV ``notes`` field.

Example::

    >>> summarize([0.97, 0.98]).format()
    '0.9750 ± 0.0071 (n=2)'
    >>> summarize([0.97]).reason
    'one repeat: std undefined'
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

NAN = float("nan")

# Reasons, worded once so that outputs and tests agree.
NO_VALUES = "no values"
ONE_REPEAT = "one repeat: std undefined"
CONSTANT_TARGET = "constant target"
CONSTANT_FEATURE = "constant feature"
TOO_FEW_ROWS = "fewer than 2 rows"


@dataclass(frozen=True)
class Value:
    """A number that may be undefined: ``value`` is NaN exactly when ``reason`` is set."""

    value: float
    reason: str | None = None

    @property
    def defined(self) -> bool:
        return self.reason is None


def undefined(reason: str) -> Value:
    """NaN with ``reason``."""
    return Value(NAN, reason)


@dataclass(frozen=True)
class Summary:
    """Mean ± sample std (ddof 1) of ``n`` repeats; NaN parts carry ``reason``."""

    mean: float
    std: float
    n: int
    reason: str | None = None

    def format(self, digits: int = 4) -> str:
        """``'0.9750 ± 0.0071 (n=2)'``; an undefined part is written ``nan``."""
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f} (n={self.n})"

    def columns(self, prefix: str) -> dict[str, float | int | str]:
        """``{prefix_mean, prefix_std, prefix_n, prefix_notes}`` for one CSV row."""
        return {
            f"{prefix}_mean": self.mean,
            f"{prefix}_std": self.std,
            f"{prefix}_n": self.n,
            f"{prefix}_notes": self.reason or "",
        }


def finite_values(values: Iterable[float | None]) -> list[float]:
    """The finite numbers of ``values`` (None, NaN and inf dropped)."""
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def summarize(values: Iterable[float | None]) -> Summary:
    """Mean and sample std over repeats; NaN-valued or missing repeats are not counted.

    One repeat gives std NaN (``ONE_REPEAT``), none gives mean NaN (``NO_VALUES``).
    """
    data = finite_values(values)
    if not data:
        return Summary(NAN, NAN, 0, NO_VALUES)
    if len(data) == 1:
        return Summary(data[0], NAN, 1, ONE_REPEAT)
    return Summary(float(np.mean(data)), float(np.std(data, ddof=1)), len(data))


def _constant(values: np.ndarray) -> bool:
    return bool(values.size) and bool(np.all(values == values[0]))


def pearson(x: Sequence[float], y: Sequence[float]) -> Value:
    """Pearson's r of ``x`` (a feature) with ``y`` (a target); NaN with reason when undefined."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"pearson needs equal lengths, got {x.shape} and {y.shape}")
    if x.size < 2:
        return undefined(TOO_FEW_ROWS)
    if _constant(y):
        return undefined(CONSTANT_TARGET)
    if _constant(x):
        return undefined(CONSTANT_FEATURE)
    dx, dy = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float((dx * dx).sum()) * float((dy * dy).sum()))
    if not denominator > 0:  # differences below float resolution
        return undefined(CONSTANT_FEATURE)
    return Value(float((dx * dy).sum() / denominator))


def r2(y_true: Sequence[float], y_pred: Sequence[float]) -> Value:
    """Coefficient of determination; NaN on a constant target (scikit-learn reports 1.0 or 0.0)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y_true.size < 2:
        return undefined(TOO_FEW_ROWS)
    if _constant(y_true):
        return undefined(CONSTANT_TARGET)
    residual = float(((y_true - y_pred) ** 2).sum())
    total = float(((y_true - y_true.mean()) ** 2).sum())
    return Value(1.0 - residual / total)


def mae(y_true: Sequence[float], y_pred: Sequence[float]) -> Value:
    """Mean absolute error; NaN without rows."""
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y_true.size == 0:
        return undefined(NO_VALUES)
    return Value(float(np.abs(y_true - y_pred).mean()))


def summarize_scores(scores: Sequence[Value]) -> tuple[Summary, list[str]]:
    """Mean ± std of the defined scores (e.g. CV folds) and the distinct reasons of the others."""
    reasons = sorted({s.reason for s in scores if s.reason})
    return summarize(s.value for s in scores if s.defined), reasons


@dataclass(frozen=True)
class ChanceCheck:
    """Whether a base accuracy beats chance by ``margin``; ``reason`` says why not."""

    accuracy: float
    chance: float
    margin: float

    @property
    def above_chance(self) -> bool:
        return math.isfinite(self.accuracy) and self.accuracy > self.chance + self.margin

    @property
    def reason(self) -> str | None:
        if self.above_chance:
            return None
        return (
            f"base accuracy {self.accuracy:.4f} does not beat chance {self.chance:.4f} "
            f"by the margin {self.margin:.4f}: tolerated p undefined"
        )


def chance_level(labels: Sequence[int]) -> float:
    """Accuracy of always predicting the most frequent label (the majority baseline)."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return NAN
    return float(np.unique(labels, return_counts=True)[1].max() / labels.size)


#: A model counts as learning when its accuracy beats chance by this much (our choice, one for
#: every experiment and the report: docs/experiments.md); below it, its numbers are flagged.
CHANCE_MARGIN = 0.05


def chance_check(
    accuracy: float | None, chance: float, margin: float = CHANCE_MARGIN
) -> ChanceCheck:
    """A :class:`ChanceCheck` (missing accuracy counts as not above chance)."""
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"chance margin must lie in [0, 1), got {margin}")
    return ChanceCheck(NAN if accuracy is None else float(accuracy), float(chance), float(margin))


def notes(*reasons: str | None | Iterable[str]) -> str:
    """One ``notes`` field: the distinct given reasons joined by ``'; '`` (empty when none)."""
    seen: list[str] = []
    for reason in reasons:
        items = [reason] if reason is None or isinstance(reason, str) else list(reason)
        for item in items:
            if item and item not in seen:
                seen.append(item)
    return "; ".join(seen)


class ChanceLevelWarning(UserWarning):
    """A base model does not beat chance: its derived statistics are excluded."""


def tolerated_or_undefined(tolerated: float, check: ChanceCheck, label: str) -> Value:
    """``tolerated`` (e.g. the largest safe p) when the base beats chance, else NaN + a warning.

    A model at chance level "tolerates" any pruning, so its p says nothing; ``label`` names
    the model in the warning (e.g. ``"GRU seed 0"``).
    """
    if check.above_chance:
        return Value(float(tolerated))

    warnings.warn(f"{label}: {check.reason}; excluded", ChanceLevelWarning, stacklevel=2)
    return undefined(check.reason or "below chance")


def summarize_groups(
    rows: Iterable[Mapping[str, object]], by: Sequence[str], values: Sequence[str]
) -> list[dict[str, object]]:
    """Mean ± std and n of each ``values`` column per group of ``by`` keys (sorted groups).

    One output row per group: the ``by`` keys, then :meth:`Summary.columns` of every value
    (``<value>_mean, _std, _n, _notes``). Missing or non-finite entries are not counted.
    """
    groups: dict[tuple, list[Mapping[str, object]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    out = []
    for key in sorted(groups, key=lambda k: tuple(map(str, k))):
        record: dict[str, object] = dict(zip(by, key, strict=True))
        for value in values:
            record.update(summarize(r.get(value) for r in groups[key]).columns(value))  # type: ignore[arg-type]
        out.append(record)
    return out
