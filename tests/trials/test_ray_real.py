"""A real local Ray instance: same results as the sequential executor, and Ctrl-C / SIGTERM
keep their promise under Ray (docs/reliability.md: one line, exit 130 / 143, held trials back to
``pending``, Ray shut down).

Needs ``pip install 'hiddenstruct[ray]'`` (skipped otherwise; CI installs it). Starting Ray
takes seconds, so only the SIGTERM test runs by default; the others are slow
(``make test-slow``).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hiddenstruct.cli.main import main

ray = pytest.importorskip("ray")

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.mark.slow
def test_prune_rnn_on_ray_equals_local(tmp_path):
    common = ["experiment", "prune-rnn", "--modes", "GRU", "RNN_RELU", "--n", "300"]
    for name, extra in (("local", []), ("ray", ["--executor", "ray", "--workers", "2"])):
        args = [
            *common,
            "--output",
            str(tmp_path / name),
            "--store",
            str(tmp_path / f"{name}.sqlite"),
        ]
        assert main(args + extra) == 0
    for table in ("points.csv", "summary.csv"):
        local = (tmp_path / "local" / table).read_text()
        assert local == (tmp_path / "ray" / table).read_text()
    assert len(local.splitlines()) > 1


def _statuses(store: Path) -> dict[str, int]:
    try:
        conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    except sqlite3.Error:
        return {}  # not created yet
    try:
        return dict(conn.execute("SELECT status, count(*) FROM trials GROUP BY status"))
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


def _session_processes(sid: int) -> list[str]:
    found = subprocess.run(["ps", "-eo", "sid=,pid=,comm="], capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if line.split()[0] == str(sid)]


def _answer_ctrl_c() -> None:
    """In the child before exec: SIGINT at its default, so the driver's Python raises
    KeyboardInterrupt on it even when these tests run in a background job (which a shell
    starts with SIGINT ignored, a disposition children inherit)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt_under_ray(tmp_path: Path, signum: int) -> tuple[int, str, dict[str, int], float]:
    store = tmp_path / "s.sqlite"
    argv = [sys.executable, "-m", "hiddenstruct", "experiment", "prune-rnn", "--modes", "GRU"]
    argv += ["LSTM", "RNN_TANH", "--n", "3000", "--executor", "ray", "--store", str(store)]
    argv += ["--output", str(tmp_path / "out")]
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    driver = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=_answer_ctrl_c,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not _statuses(store).get("running"):
        if driver.poll() is not None:
            pytest.fail(f"the driver ended early: {driver.communicate()[1][-2000:]}")
        time.sleep(0.5)
    assert _statuses(store).get("running"), "no trial started running under Ray"
    time.sleep(2)  # the trials are inside Ray tasks now
    if signum == signal.SIGINT:
        os.killpg(driver.pid, signum)  # Ctrl-C reaches the terminal's whole process group
    else:
        os.kill(driver.pid, signum)
    _, err = driver.communicate(timeout=120)
    time.sleep(3)  # Ray's processes are given a moment to go
    leftovers = _session_processes(driver.pid)
    assert leftovers == [], leftovers
    return driver.returncode, err, _statuses(store), time.monotonic()


def _check_interrupted(code: int, err: str, statuses: dict[str, int], signum: int) -> None:
    assert code == 128 + signum
    lines = err.strip().splitlines()
    name = signal.Signals(signum).name
    assert lines[-1].startswith(f"hiddenstruct: interrupted by {name}; ")
    assert "trial(s) put back to pending" in lines[-1]
    assert not [line for line in lines if "logging.cc" in line or "Traceback" in line], lines
    assert set(statuses) == {"pending"} and statuses["pending"] == 3


def test_sigterm_under_ray_is_one_line_exit_143_trials_pending_ray_gone(tmp_path):
    code, err, statuses, _ = _interrupt_under_ray(tmp_path, signal.SIGTERM)
    _check_interrupted(code, err, statuses, signal.SIGTERM)


@pytest.mark.slow
def test_ctrl_c_under_ray_is_one_line_exit_130_trials_pending_ray_gone(tmp_path):
    code, err, statuses, _ = _interrupt_under_ray(tmp_path, signal.SIGINT)
    _check_interrupted(code, err, statuses, signal.SIGINT)
