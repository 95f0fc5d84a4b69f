"""A stored trial as readers see it: :class:`TrialRecord` (a row of the trials table with its
config and result decoded) and :func:`trials_frame` (records as one flat DataFrame)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

MetricRow = tuple[int, str, float]
"""One logged metric: ``(step, name, value)``."""


@dataclass(frozen=True)
class TrialRecord:
    """One row of the trials table, with config and result decoded."""

    hash: str
    experiment: str
    config: dict[str, Any]
    status: str
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    started_at: float | None
    finished_at: float | None

    @property
    def seconds(self) -> float | None:
        """Wall time of the last attempt, when finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


def record_from_row(row: sqlite3.Row) -> TrialRecord:
    """The :class:`TrialRecord` of a row of the trials table."""
    return TrialRecord(
        hash=row["hash"],
        experiment=row["experiment"],
        config=json.loads(row["config"]),
        status=row["status"],
        result=json.loads(row["result"]) if row["result"] is not None else None,
        error=row["error"],
        attempts=row["attempts"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def _flat_value(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, out)
    else:
        out[prefix] = _flat_value(value)


def trials_frame(records: list[TrialRecord]):
    """One row per trial: bookkeeping columns, then ``config.*`` and ``result.*`` flattened
    (nested lists kept as JSON text, so the frame exports to CSV and Parquet alike)."""
    import pandas as pd

    rows = []
    for rec in records:
        row: dict[str, Any] = {
            "hash": rec.hash,
            "experiment": rec.experiment,
            "status": rec.status,
            "attempts": rec.attempts,
            "started_at": pd.to_datetime(rec.started_at, unit="s", utc=True),
            "finished_at": pd.to_datetime(rec.finished_at, unit="s", utc=True),
            "seconds": rec.seconds,
            "error": rec.error,
        }
        _flatten("config", rec.config, row)
        _flatten("result", rec.result or {}, row)
        rows.append(row)
    base = [
        "hash",
        "experiment",
        "status",
        "attempts",
        "started_at",
        "finished_at",
        "seconds",
        "error",
    ]
    return pd.DataFrame(rows, columns=None if rows else base)
