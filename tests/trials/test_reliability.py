"""Concurrency, killed workers, killed or signalled drivers: every trial runs once, nothing is
left running, no worker outlives its driver (docs/reliability.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hiddenstruct.trials.executors import ProcessPoolExecutor, run_trials
from hiddenstruct.trials.store import TrialStore

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "reliability_trials.py"
SRC = HERE.parents[1] / "src"
sys.path.insert(0, str(HERE))
import reliability_trials  # noqa: E402


def _answer_ctrl_c() -> None:
    """In the child before exec: SIGINT at its default, so the driver's Python raises
    KeyboardInterrupt on it even when these tests run in a background job (which a shell
    starts with SIGINT ignored, a disposition children inherit)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _sweep(store: Path, markers: Path, n: int, sleep: float, workers: int, **popen):
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(store), str(markers), str(n), str(sleep), str(workers)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_answer_ctrl_c,
        **popen,
    )


def _runs(markers: Path) -> dict[int, list[int]]:
    """trial index -> pids of the processes that ran it."""
    out: dict[int, list[int]] = {}
    for path in markers.glob("run-*"):
        _, i, pid, _ = path.name.split("-")
        out.setdefault(int(i), []).append(int(pid))
    return out


def _wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_two_identical_sweeps_at_once_run_every_trial_exactly_once(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    store = tmp_path / "s.sqlite"
    first = _sweep(store, markers, 6, 0.4, 2)
    second = _sweep(store, markers, 6, 0.4, 1)
    outs = [p.communicate(timeout=180) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs
    runs = _runs(markers)
    assert sorted(runs) == list(range(6))
    assert all(len(pids) == 1 for pids in runs.values()), runs  # exactly once each
    with TrialStore(store) as s:
        records = s.trials("reliability")
        assert [r.status for r in records] == ["done"] * 6
        assert all(r.attempts == 1 for r in records)
        assert len(s.metrics_dataframe()) == 12  # two rows per trial, none duplicated
    assert any("finished by another process" in err or "waiting for" in err for _, err in outs)


def test_a_dead_worker_fails_only_its_trial_and_is_retried(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    configs = reliability_trials.configs(str(markers), 5, 0.0)
    configs[1]["die_once"] = True  # dies on its first run, succeeds on the retry
    configs[3]["die"] = True  # dies every time: failed after --max-attempts 2
    store = TrialStore(tmp_path / "s.sqlite")
    records = run_trials(
        "die",
        configs,
        reliability_trials.marked_trial,
        store,
        ProcessPoolExecutor(2),
        progress=False,
    )
    assert [r.status for r in records] == ["done", "done", "done", "failed", "done"]
    assert "worker process died (exit code 3)" in records[3].error
    assert [r.attempts for r in records] == [1, 2, 1, 2, 1]
    assert {i: len(p) for i, p in _runs(markers).items()} == {0: 1, 1: 2, 2: 1, 3: 2, 4: 1}
    assert len(store.metrics(records[1].hash)) == 2  # only the successful attempt's rows


def test_killed_driver_leaves_no_orphan_and_its_trials_are_reclaimed(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    store = tmp_path / "s.sqlite"
    driver = _sweep(store, markers, 3, 120.0, 2)
    _wait_for(lambda: len(_runs(markers)) == 2, 120, "two workers to start trials")
    workers = [pid for pids in _runs(markers).values() for pid in pids]
    driver.kill()
    driver.communicate(timeout=30)
    _wait_for(lambda: not any(_alive(pid) for pid in workers), 5, "workers to notice")
    with TrialStore(store) as s:
        assert sorted(r.status for r in s.trials()) == ["pending", "running", "running"]
    # the dead driver's leases are stale at once: the next sweep runs everything
    for path in markers.glob("run-*"):
        path.unlink()
    records = run_trials(
        "reliability",
        [dict(c, sleep=0.0) for c in reliability_trials.configs(str(markers), 3, 120.0)],
        reliability_trials.marked_trial,
        store,
        progress=False,
    )
    assert [r.status for r in records] == ["done"] * 3


@pytest.mark.parametrize(
    ("signum", "group", "code"),
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
    ids=["ctrl-c-to-group", "sigterm-to-driver"],
)
def test_signals_stop_workers_and_put_trials_back(tmp_path, signum, group, code):
    markers = tmp_path / "markers"
    markers.mkdir()
    store = tmp_path / "s.sqlite"
    driver = _sweep(store, markers, 3, 120.0, 2, start_new_session=True)
    _wait_for(lambda: len(_runs(markers)) == 2, 120, "two workers to start trials")
    workers = [pid for pids in _runs(markers).values() for pid in pids]
    if group:
        os.killpg(driver.pid, signum)
    else:
        os.kill(driver.pid, signum)
    _, err = driver.communicate(timeout=30)
    assert driver.returncode == code, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "2 running trial(s) put back to pending" in lines[0], err
    assert not any(_alive(pid) for pid in workers)
    with TrialStore(store) as s:
        assert [r.status for r in s.trials()] == ["pending"] * 3


def test_max_attempts_from_the_executor_bounds_the_retries(tmp_path):
    from hiddenstruct.trials.executors import make_executor

    markers = tmp_path / "markers"
    markers.mkdir()
    configs = reliability_trials.configs(str(markers), 2, 0.0)
    configs[1]["die_once"] = True  # would succeed on a second run; --max-attempts 1 allows none
    records = run_trials(
        "die1",
        configs,
        reliability_trials.marked_trial,
        TrialStore(tmp_path / "s.sqlite"),
        make_executor("process", 2, max_attempts=1),
        progress=False,
    )
    assert [r.status for r in records] == ["done", "failed"]
    assert [r.attempts for r in records] == [1, 1]


def test_max_attempts_below_one_is_a_usage_error(tmp_path, capsys):
    from hiddenstruct.cli.main import main

    argv = ["experiment", "prune-rnn", "--max-attempts", "0", "--store", str(tmp_path / "s")]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and "--max-attempts" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
