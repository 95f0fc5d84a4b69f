"""Trial-store write throughput: logging a sweep's results and metrics.

ours: TrialStore (SQLite in WAL mode, one transaction per trial: metrics + result together).
baseline 1: naive SQLite, autocommit after every statement (rollback journal, one fsync each).
baseline 2: a JSON file holding every trial, rewritten atomically after each trial.
Both baselines store the same rows; all three are durable after each trial.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from pathlib import Path

from common import bench_parser, measure, repeats_of, report

from hiddenstruct.trials.store import TrialStore


def workload(n_trials: int, n_metrics: int):
    for i in range(n_trials):
        config = {"experiment": "bench", "i": i, "lr": 0.001 * (i % 7), "hidden": [50, 50, 50]}
        metrics = [
            (step, "val_accuracy", 0.5 + step / (2 * n_metrics)) for step in range(n_metrics)
        ]
        yield config, metrics, {"accuracy": 0.9, "loss": 0.1}


def ours(folder: Path, n_trials: int, n_metrics: int) -> None:
    store = TrialStore(folder / "ours.sqlite")
    for config, metrics, result in workload(n_trials, n_metrics):
        h = store.register("bench", config)
        store.claim(h)
        store.finish(h, result, metrics)
    store.close()


def naive_sqlite(folder: Path, n_trials: int, n_metrics: int) -> None:
    conn = sqlite3.connect(folder / "naive.sqlite", isolation_level=None)  # autocommit
    conn.execute(
        "CREATE TABLE trials (hash TEXT PRIMARY KEY, config TEXT, status TEXT, result TEXT)"
    )
    conn.execute("CREATE TABLE metrics (hash TEXT, step INTEGER, name TEXT, value REAL)")
    for i, (config, metrics, result) in enumerate(workload(n_trials, n_metrics)):
        h = str(i)
        conn.execute("INSERT INTO trials VALUES (?, ?, 'running', NULL)", (h, json.dumps(config)))
        for step, name, value in metrics:
            conn.execute("INSERT INTO metrics VALUES (?, ?, ?, ?)", (h, step, name, value))
        conn.execute(
            "UPDATE trials SET status = 'done', result = ? WHERE hash = ?", (json.dumps(result), h)
        )
    conn.close()


def json_rewrite(folder: Path, n_trials: int, n_metrics: int) -> None:
    path = folder / "trials.json"
    trials = {}
    for i, (config, metrics, result) in enumerate(workload(n_trials, n_metrics)):
        trials[str(i)] = {"config": config, "metrics": metrics, "result": result, "status": "done"}
        tmp = path.with_suffix(".tmp")
        with tmp.open("w") as handle:
            json.dump(trials, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)


def timed(fn, n_trials: int, n_metrics: int, repeats: int, warmup: int = 0) -> list[float]:
    def once():
        with tempfile.TemporaryDirectory() as folder:
            fn(Path(folder), n_trials, n_metrics)

    return measure(once, repeats=repeats, warmup=warmup)


def main() -> None:
    args = bench_parser(__doc__.splitlines()[0], default_repeats=3).parse_args()
    repeats = repeats_of(args)
    # the autocommit baseline pays one fsync per statement: sizes keep it under ~1 minute
    n_trials, n_metrics = (20, 10) if args.quick else (60, 20)
    ours_times = timed(ours, n_trials, n_metrics, repeats, warmup=1)
    label = f"store_write_{n_trials}x{n_metrics}"
    report(
        f"{label}_vs_sqlite_autocommit",
        ours_times,
        timed(naive_sqlite, n_trials, n_metrics, repeats),
    )
    report(
        f"{label}_vs_json_rewrite", ours_times, timed(json_rewrite, n_trials, n_metrics, repeats)
    )


if __name__ == "__main__":
    main()
