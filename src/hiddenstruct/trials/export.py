"""Export stored trials to CSV or Parquet, atomically (temporary file, then rename)."""

from __future__ import annotations

from pathlib import Path

from hiddenstruct.errors import HiddenstructError, check_choice
from hiddenstruct.outputs import write_with
from hiddenstruct.trials.store import TrialStore

FORMATS = ("csv", "parquet")


def infer_format(path: str | Path, fmt: str | None = None) -> str:
    """``fmt`` when given, else the output's suffix (``.csv`` / ``.parquet``)."""
    fmt = fmt or Path(path).suffix.lower().lstrip(".")
    return check_choice(fmt, FORMATS, "export format", hint="(choose one with --format)")


def _write_frame(frame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        frame.to_csv(path, index=False)
        return
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise HiddenstructError(
            "Parquet export needs pyarrow: pip install 'hiddenstruct[parquet]' (or use --format csv)"
        ) from None
    frame.to_parquet(path, index=False)


def export_trials(
    store: TrialStore,
    output: str | Path,
    fmt: str | None = None,
    experiment: str | None = None,
    metrics: bool = False,
) -> int:
    """Write one row per trial (or, with ``metrics``, the long metrics table); return the row count."""
    output = Path(output)
    fmt = infer_format(output, fmt)
    frame = store.metrics_dataframe(experiment) if metrics else store.to_dataframe(experiment)

    write_with(output, lambda tmp: _write_frame(frame, tmp, fmt))
    return len(frame)
