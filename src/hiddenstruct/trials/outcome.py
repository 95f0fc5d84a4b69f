"""Failure is failure: what a sweep with failed trials tells the user, and its exit code.

:func:`require_finished` replaces "see the store": when no trial finished, the error names
the count and the first trial's error. :func:`sweep_exit_code` is called by the experiment
commands after their outputs are written: 0 when every trial of the sweep succeeded, else it
prints the count, the first error and that the outputs come from the finished trials, and
returns 1.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from hiddenstruct.errors import HiddenstructError
from hiddenstruct.trials.store import TrialRecord, TrialStore


def error_summary(error: str | None) -> str:
    """The last line of a stored traceback ('TrainingDiverged: loss became NaN at ...')."""
    lines = [line for line in (error or "").strip().splitlines() if line.strip()]
    if not lines:
        return "unknown error"
    kind, sep, message = lines[-1].strip().partition(": ")
    return f"{kind.rsplit('.', 1)[-1]}{sep}{message}" if " " not in kind else lines[-1].strip()


def require_finished(experiment: str, records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The ``done`` trials of ``records``; a clear error when there is none."""
    done = [r for r in records if r.status == "done"]
    if done:
        return done
    failed = [r for r in records if r.status == "failed"]
    if not failed:
        raise HiddenstructError(f"no {experiment} trial finished ({len(records)} not run)")
    raise HiddenstructError(
        f"no {experiment} trial finished: {len(failed)} of {len(records)} failed; first error: "
        f"{error_summary(failed[0].error)} (all errors: `hiddenstruct results list --status "
        "failed`)"
    )


def sweep_exit_code(
    store: TrialStore, written: Mapping[str, object], stream: TextIO | None = None
) -> int:
    """1 (after a message on stderr) when trials failed through ``store`` in this process."""
    if not store.failures:
        return 0
    stream = stream or sys.stderr
    count = len({h for h, _ in store.failures})
    files = [label for label in written if label != "trials"]
    done = written.get("trials")
    print(
        f"hiddenstruct: error: {count} trial(s) failed; first error: "
        f"{error_summary(store.failures[0][1])}",
        file=stream,
    )
    if files:
        print(
            f"hiddenstruct: the outputs listed above ({', '.join(files)}) were written from "
            f"the finished trials only ({done}); see `hiddenstruct results list --status failed "
            f"--store {store.path}`",
            file=stream,
        )
    return 1
