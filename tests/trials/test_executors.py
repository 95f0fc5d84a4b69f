"""Executors: sequential == process pool, failures recorded, resume after a killed sweep."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from hiddenstruct.errors import HiddenstructError, UsageError
from hiddenstruct.training.progress import progress_enabled
from hiddenstruct.trials.executors import (
    LocalExecutor,
    ProcessPoolExecutor,
    RayExecutor,
    make_executor,
    run_trials,
    trial_seed,
)
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.store import TrialStore


def tiny_training_trial(config, log):
    """Trains a tiny net from the trial's seed; the result depends on every random draw."""
    x = torch.randn(64, 3)
    y = (x.sum(1) > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    opt = torch.optim.SGD(model.parameters(), lr=config["lr"])
    for step in range(5):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.metric(step, loss=loss.item())
    with torch.no_grad():
        weight_sum = float(sum(p.sum() for p in model.parameters()))
    return {"loss": float(loss.detach()), "weight_sum": weight_sum}


def failing_trial(config, log):
    log.metric(0, progress=1.0)
    if config["fail"]:
        raise RuntimeError(f"planned failure {config['i']}")
    return {"i": config["i"]}


def progress_probe_trial(config, log):
    return {"auto_progress": progress_enabled(None)}


CONFIGS = [{"lr": lr, "seed": seed} for lr in (0.1, 0.5) for seed in (0, 1)] + [{"lr": 0.2}]


def test_sequential_and_process_pool_give_identical_results(tmp_path):
    local = run_trials(
        "t", CONFIGS, tiny_training_trial, TrialStore(tmp_path / "a.sqlite"), LocalExecutor()
    )
    pooled = run_trials(
        "t", CONFIGS, tiny_training_trial, TrialStore(tmp_path / "b.sqlite"), ProcessPoolExecutor(2)
    )
    assert [r.status for r in local] == ["done"] * len(CONFIGS)
    assert (
        [r.hash for r in local]
        == [r.hash for r in pooled]
        == [trial_identity("t", c) for c in CONFIGS]
    )
    assert [r.result for r in local] == [r.result for r in pooled]
    # different seeds really give different results (the comparison above is not vacuous)
    assert local[0].result != local[1].result
    store = TrialStore(tmp_path / "b.sqlite")
    assert [name for _, name, _ in store.metrics(pooled[0].hash)] == ["loss"] * 5


def test_trial_seed_from_config_or_hash():
    assert trial_seed({"seed": 7}, "ff" * 32) == 7
    assert trial_seed({}, "0000000a" + "0" * 56) == 10


def test_failures_are_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    store = TrialStore(tmp_path / "s.sqlite")
    configs = [{"i": i, "fail": i % 2 == 1} for i in range(4)]
    records = run_trials("f", configs, failing_trial, store, progress=True)
    assert [r.status for r in records] == ["done", "failed", "done", "failed"]
    assert "planned failure 1" in records[1].error and "RuntimeError" in records[1].error
    assert records[0].result == {"i": 0}
    assert store.metrics(records[1].hash) == [(0, "progress", 1.0)]
    assert "2 failed" in capsys.readouterr().err
    # re-run: done trials are skipped, failed ones retried (attempt 2)
    again = run_trials("f", configs, failing_trial, store, progress=False)
    assert [r.attempts for r in again] == [1, 2, 1, 2]
    kept = run_trials("f", configs, failing_trial, store, progress=False, retry_failed=False)
    assert [r.attempts for r in kept] == [1, 2, 1, 2]


def test_duplicates_run_once_and_order_is_kept(tmp_path):
    calls = []

    def counting(config, log):
        calls.append(config["k"])
        return {"k": config["k"]}

    configs = [{"k": 2}, {"k": 1}, {"k": 2}]
    records = run_trials("d", configs, counting, tmp_path / "s.sqlite", progress=False)
    assert calls == [2, 1]
    assert [r.result["k"] for r in records] == [2, 1, 2]


def test_progress_is_suppressed_inside_trials(tmp_path):
    (record,) = run_trials(
        "p", [{"a": 1}], progress_probe_trial, tmp_path / "s.sqlite", progress=False
    )
    assert record.result == {"auto_progress": False}


def test_process_pool_rejects_unpicklable_function(tmp_path):
    with pytest.raises(UsageError, match="module level"):
        run_trials(
            "l", [{"a": 1}], lambda c, log: {}, tmp_path / "s.sqlite", ProcessPoolExecutor(2)
        )


def test_make_executor_registry():
    assert isinstance(make_executor(None, 1), LocalExecutor)
    assert isinstance(make_executor(None, 3), ProcessPoolExecutor)
    assert make_executor("process", 3).workers == 3
    assert isinstance(make_executor("ray", 1, "auto"), RayExecutor)
    with pytest.raises(UsageError, match="local"):
        make_executor("threads", 2)


def test_ray_executor_without_ray_gives_install_hint(tmp_path):
    try:
        import ray  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("ray is installed")
    with pytest.raises(HiddenstructError, match=r"hiddenstruct\[ray\]"):
        run_trials("r", [{"a": 1}], tiny_training_trial, tmp_path / "s.sqlite", RayExecutor())


CRASHING_SWEEP = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from hiddenstruct.trials.executors import run_trials

    marker_dir = Path(sys.argv[2])

    def trial(config, log):
        (marker_dir / f"started-{config['i']}").touch()
        log.metric(0, i=config["i"])
        if config["i"] == 2:
            time.sleep(600)  # killed here
        return {"i": config["i"]}

    run_trials("crash", [{"i": i} for i in range(5)], trial, sys.argv[1], progress=False)
    """
)


def resumed_trial(config, log):
    log.metric(0, i=config["i"])
    return {"i": config["i"], "resumed": True}


def test_resume_after_sweep_killed_mid_trial(tmp_path):
    path = tmp_path / "crash.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", CRASHING_SWEEP, str(path), str(tmp_path)])
    deadline = time.monotonic() + 120
    while not (tmp_path / "started-2").exists():
        assert proc.poll() is None, "sweep exited before reaching the trial to kill"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    store = TrialStore(path)
    before = {r.config["i"]: r for r in store.trials("crash")}
    assert [before[i].status for i in range(5)] == ["done", "done", "running", "pending", "pending"]
    records = run_trials(
        "crash", [{"i": i} for i in range(5)], resumed_trial, store, progress=False
    )
    assert [r.status for r in records] == ["done"] * 5
    # finished trials kept untouched, the interrupted and unstarted ones re-run
    assert [r.result.get("resumed", False) for r in records] == [False, False, True, True, True]
    assert [r.finished_at for r in records[:2]] == [before[0].finished_at, before[1].finished_at]
    assert [r.attempts for r in records] == [1, 1, 2, 1, 1]
    assert len(store.trials("crash")) == 5
    for record in records:  # one attempt's metrics each, nothing duplicated
        assert store.metrics(record.hash) == [(0, "i", float(record.config["i"]))]


def test_sweep_progress_display_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    records = run_trials(
        "bar", [{"i": i, "fail": False} for i in range(3)], failing_trial, tmp_path / "s.sqlite"
    )
    assert [r.status for r in records] == ["done"] * 3


class FakeRef:
    def __init__(self, fn, job):
        self.fn, self.job = fn, job


class FakeRay:
    """Just enough of ray's API (init, remote, wait, get) to run RayExecutor in-process."""

    def __init__(self):
        self.initialized_with = None
        self.submitted = 0

    def is_initialized(self):
        return self.initialized_with is not None

    def init(self, address=None, **kwargs):
        self.initialized_with = address or "local"

    def cluster_resources(self):
        return {"CPU": 2.0}

    def remote(self, **options):
        fake = self

        def wrap(fn):
            class Remote:
                @staticmethod
                def remote(job):
                    fake.submitted += 1
                    return FakeRef(fn, job)

            return Remote

        return wrap

    def wait(self, refs, num_returns=1):
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        return ref.fn(ref.job)

    def shutdown(self):
        self.initialized_with = None


def test_ray_executor_runs_trials_through_the_ray_api(tmp_path, monkeypatch):
    fake = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    configs = [{"i": i, "fail": i == 1} for i in range(4)]
    records = run_trials("ray", configs, failing_trial, tmp_path / "s.sqlite", RayExecutor())
    assert fake.initialized_with == "local"
    assert fake.submitted == 4
    assert [r.status for r in records] == ["done", "failed", "done", "done"]
    local = run_trials(
        "ray", configs, failing_trial, tmp_path / "t.sqlite", LocalExecutor(), progress=False
    )
    assert [r.result for r in records] == [r.result for r in local]


def dying_trial(config, log):
    if config["die"]:
        os._exit(3)  # the worker process disappears, as when killed for memory
    return {"i": config["i"]}


@pytest.mark.slow
def test_worker_death_is_recorded_and_the_sweep_ends(tmp_path):
    configs = [{"i": i, "die": i == 1} for i in range(5)]
    store = TrialStore(tmp_path / "s.sqlite")
    records = run_trials("die", configs, dying_trial, store, ProcessPoolExecutor(2), progress=False)
    assert records[1].status == "failed" and "worker crashed" in records[1].error
    assert all(r.status in ("done", "failed") for r in records)  # nothing left running
    again = run_trials(
        "die", [c for c in configs if not c["die"]], dying_trial, store, progress=False
    )
    assert [r.status for r in again] == ["done"] * 4


def _threads_seen(config, log):
    return {"threads": torch.get_num_threads()}


def test_a_trial_runs_with_its_own_thread_count(tmp_path):
    store = tmp_path / "store.sqlite"
    before = torch.get_num_threads()
    configs = [{"seed": 0, "threads": 2}, {"seed": 1}]
    with_key, without = run_trials("toy", configs, _threads_seen, store, progress=False)
    assert with_key.result["threads"] == 2
    assert without.result["threads"] == before  # no key: torch's setting unchanged
    assert torch.get_num_threads() == before


# ---- Ray addresses are checked, bounded and named before any store exists -----------------
def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: connection refused


@pytest.mark.parametrize(
    ("address", "match"),
    [
        ("garbage", "expected HOST:PORT"),
        ("127.0.0.1:99999", "port in 1..65535"),
        ("http://head:6379", "unknown scheme http://"),
        ("nosuchhost.invalid:6379", "unknown host 'nosuchhost.invalid'"),
    ],
)
def test_malformed_or_unknown_ray_addresses_are_usage_errors(address, match):
    from hiddenstruct.trials.executors import check_ray_address

    with pytest.raises(UsageError, match=re.escape(match)):
        check_ray_address(address, timeout=2)


def test_ray_client_address_without_the_client_extra_names_the_fix(monkeypatch):
    import importlib.util

    from hiddenstruct.trials.executors import check_ray_address

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "grpc" else real(name, *a)
    )
    with pytest.raises(UsageError, match=r"needs Ray Client.*pip install 'ray\[client\]'"):
        check_ray_address("ray://127.0.0.1:10001", timeout=2)


def test_unreachable_ray_address_is_one_line_exit_2_and_creates_nothing(tmp_path, capsys):
    from hiddenstruct.cli.main import main

    address = f"127.0.0.1:{_closed_port()}"
    argv = ["experiment", "prune-rnn", "--modes", "GRU", "--executor", "ray"]
    argv += ["--ray-address", address, "--ray-timeout", "5"]
    argv += ["--store", str(tmp_path / "s.sqlite"), "--output", str(tmp_path / "out")]
    started = time.monotonic()
    assert main(argv) == 2
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--ray-address {address}: nothing answers" in err
    assert "raise --ray-timeout" in err
    assert list(tmp_path.iterdir()) == []  # no store, no output folder
