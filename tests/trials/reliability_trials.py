"""Trial functions and a sweep driver for the reliability tests (run in subprocesses).

Every trial run leaves a marker file ``run-<i>-<pid>-<n>`` in ``config["markers"]`` so a test
can count how often each trial ran and find the worker pids.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def marked_trial(config, log):
    """Sleeps ``config["sleep"]`` s; dies once (``die_once``) or always (``die``) when asked."""
    markers = Path(config["markers"])
    runs = len(list(markers.glob(f"run-{config['i']}-*")))
    (markers / f"run-{config['i']}-{os.getpid()}-{runs}").touch()
    if config.get("die") or (config.get("die_once") and runs == 0):
        os._exit(3)
    time.sleep(config.get("sleep", 0.0))
    log.metric(0, i=float(config["i"]))
    log.metric(1, i=float(config["i"]) + 0.5)
    return {"i": config["i"], "pid": os.getpid()}


def configs(markers: str, n: int, sleep: float) -> list[dict]:
    return [{"i": i, "sleep": sleep, "markers": markers} for i in range(n)]


def main() -> int:
    """``python reliability_trials.py STORE MARKERS N SLEEP WORKERS``: one sweep, CLI exit code."""
    from hiddenstruct.cli.main import guarded
    from hiddenstruct.trials.executors import make_executor, run_trials

    store, markers, n, sleep, workers = sys.argv[1:6]
    return guarded(
        lambda: (
            run_trials(
                "reliability",
                configs(markers, int(n), float(sleep)),
                marked_trial,
                store,
                make_executor(None, int(workers)),
                progress=False,
            )
            and 0
        )
    )


if __name__ == "__main__":
    sys.exit(main())
