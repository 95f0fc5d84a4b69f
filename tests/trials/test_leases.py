"""Leases: a live owner's trial is not claimed, a stale one is, and only the holder of an
attempt may store its outcome (docs/reliability.md)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from hiddenstruct.trials.lease import Owner, _process_start
from hiddenstruct.trials.store import TrialStore


def _hold(store: TrialStore, trial_hash: str, owner: str, heartbeat: float) -> None:
    store._conn.execute(
        "UPDATE trials SET status = 'running', lease_owner = ?, heartbeat_at = ?, attempts = 1 "
        "WHERE hash = ?",
        (owner, heartbeat, trial_hash),
    )


def _live_other_process() -> str:
    """The lease owner string of a live process that is not this one (our parent)."""
    import os

    pid = os.getppid()
    return str(Owner(socket.gethostname(), pid, _process_start(pid)))


def test_a_live_lease_blocks_and_a_stale_one_is_taken_over(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite", stale_after=30)
    h = store.register("toy", {"i": 1})
    _hold(store, h, _live_other_process(), time.time())
    claim = store.try_claim(h)
    assert not claim.ok and claim.held_by is not None
    assert store.claim(h) is None  # the plain claim respects the lease too
    _hold(store, h, _live_other_process(), time.time() - 31)  # no heartbeat for 31 s
    assert store.try_claim(h).attempt == 2


def test_a_dead_owner_on_this_host_is_stale_at_once(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = str(Owner(socket.gethostname(), int(done.stdout), "1"))
    store = TrialStore(tmp_path / "s.sqlite")
    h = store.register("toy", {"i": 1})
    _hold(store, h, dead, time.time())
    assert store.try_claim(h).ok


def test_a_reused_pid_is_not_the_owner(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    h = store.register("toy", {"i": 1})
    me = Owner.current()
    _hold(store, h, str(Owner(me.host, me.pid - 1 if me.pid > 2 else 1, "0")), time.time())
    # pid exists or not: its start time does not match, so the lease is not live
    assert store.try_claim(h).ok


def test_only_the_holder_of_an_attempt_stores_its_outcome(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    h = store.register("toy", {"i": 1})
    attempt = store.try_claim(h).attempt
    _hold(store, h, _live_other_process(), time.time())  # another process took it over
    assert store.finish(h, {"acc": 1.0}, metrics=[(0, "loss", 1.0)], attempt=attempt) is False
    assert store.fail(h, "boom", attempt=attempt) is False
    assert store.get(h).status == "running" and store.metrics(h) == []
    assert store.failures == []


def test_release_puts_only_our_trials_back(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    ours, theirs = store.register("toy", {"i": 1}), store.register("toy", {"i": 2})
    store.try_claim(ours)
    _hold(store, theirs, _live_other_process(), time.time())
    assert store.release([ours, theirs]) == 1
    assert [store.get(ours).status, store.get(theirs).status] == ["pending", "running"]
