"""The Ray executor: trials as Ray tasks on a cluster or a local Ray instance.

Before Ray is asked, the address is checked (well formed, host resolves, port answers within
``--ray-timeout``; :func:`check_ray_address`), because Ray retries a wrong address for minutes.
Connecting is bounded by the same timeout, Ctrl-C and SIGTERM keep their meaning under Ray,
and an interrupted sweep cancels its tasks and shuts down the Ray instance it started.
Ray itself is imported only when this executor connects (it is an optional extra).
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import threading

from hiddenstruct.errors import HiddenstructError, UsageError
from hiddenstruct.trials.job import crashed_outcome

DEFAULT_RAY_TIMEOUT = 60.0  # seconds to reach a cluster or start a local Ray instance (our choice)


def parse_ray_address(address: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of a ``host:port`` or ``ray://host:port`` address; None for
    ``auto`` / ``local``, which Ray resolves itself. UsageError when malformed."""
    if address in ("auto", "local"):
        return None
    scheme, _, rest = address.rpartition("://")
    if scheme not in ("", "ray"):
        raise UsageError(
            f"--ray-address {address}: unknown scheme {scheme}://; give HOST:PORT of the "
            "cluster's head (e.g. 10.0.0.5:6379) or ray://HOST:10001 for Ray Client"
        )
    host, colon, port_text = rest.rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(
            f"--ray-address {address}: expected HOST:PORT (e.g. 10.0.0.5:6379) or "
            "ray://HOST:10001, with a port in 1..65535"
        )
    return scheme or "gcs", host, int(port_text)


def check_ray_address(address: str, timeout: float) -> None:
    """Before Ray is asked (it retries an unreachable address for minutes): the address is
    well formed, its host resolves, its port accepts a connection within ``timeout`` seconds,
    and a ``ray://`` address has the Ray Client extra installed. UsageError naming the
    address and the fix otherwise."""

    parsed = parse_ray_address(address)
    if parsed is None:
        return
    scheme, host, port = parsed
    if scheme == "ray" and importlib.util.find_spec("grpc") is None:
        raise UsageError(
            f"--ray-address {address}: a ray:// address needs Ray Client, which is not "
            "installed: pip install 'ray[client]' (or give the head's HOST:6379 address)"
        )
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UsageError(
            f"--ray-address {address}: unknown host {host!r}; check the name or give the "
            "head node's IP address"
        ) from None
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as err:
        why = f"no answer in {timeout:g} s" if isinstance(err, TimeoutError) else err.strerror
        raise UsageError(
            f"--ray-address {address}: nothing answers at {host}:{port} ({why or err}); start "
            "the cluster (`ray start --head`), check the address and firewall, or raise "
            "--ray-timeout"
        ) from None


class RayExecutor:
    """Runs trials as Ray tasks on a cluster (``address``) or a local Ray instance.

    :meth:`connect` reaches the cluster (or starts a local instance) within ``timeout``
    seconds and is called before any store is created; Ctrl-C and SIGTERM keep their
    meaning under Ray (Ray's own SIGTERM handler is replaced by the one that was there), and
    an interrupted sweep cancels its Ray tasks and shuts down the Ray instance it started.
    """

    def __init__(
        self,
        address: str | None = None,
        num_cpus_per_trial: float = 1.0,
        timeout: float = DEFAULT_RAY_TIMEOUT,
    ) -> None:
        if not timeout > 0:
            raise UsageError(f"--ray-timeout must be > 0 seconds, got {timeout}")
        self.address = address
        self.num_cpus_per_trial = num_cpus_per_trial
        self.timeout = float(timeout)
        self._started = False  # this executor called ray.init (so it shuts Ray down)

    @staticmethod
    def _import_ray():
        try:
            import ray
        except ImportError:
            raise HiddenstructError(
                "the Ray executor needs ray, which is not installed: "
                "pip install 'hiddenstruct[ray]' (or choose --executor local|process)"
            ) from None
        return ray

    def connect(self) -> None:
        """Reach the cluster or start a local Ray instance, within ``timeout`` seconds."""

        if self.address is not None:  # a wrong address is named even where Ray is missing
            check_ray_address(self.address, self.timeout)
        ray = self._import_ray()
        if ray.is_initialized():
            return
        if self.address is not None:
            self._probe_cluster()
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        failure: list[BaseException] = []
        ready, stop = threading.Event(), threading.Event()

        def start() -> None:  # in a thread: Ray then leaves the SIGTERM handler alone too
            try:
                ray.init(
                    address=self.address,
                    ignore_reinit_error=True,
                    log_to_driver=False,
                    include_dashboard=False,
                    logging_level=logging.ERROR,
                )
            except BaseException as err:  # reported by the caller
                failure.append(err)
                return
            finally:
                ready.set()
            # Ray's local processes are tied to the thread that started them (they get
            # PR_SET_PDEATHSIG): this thread stays until shutdown() or the process ends
            stop.wait()

        thread = threading.Thread(target=start, name="hiddenstruct-ray", daemon=True)
        thread.start()
        ready.wait(self.timeout)
        self._restore(handlers)
        where = self.address or "a local Ray instance"
        if not ready.is_set():
            raise UsageError(
                f"--ray-address {where}: Ray did not connect within {self.timeout:g} s; check "
                "that the cluster runs and matches this Ray version, or raise --ray-timeout"
            )
        if failure:
            first = (str(failure[0]).strip().splitlines() or [type(failure[0]).__name__])[0]
            raise UsageError(f"--ray-address {where}: Ray could not connect ({first[:200]})")
        self._started, self._stop = True, stop

    def _probe_cluster(self) -> None:
        """Connect once from a child process, killed after ``timeout`` seconds: Ray retries a
        wrong address for minutes and logs each retry from C++ on stderr, so the first try
        happens where both can be stopped and silenced."""

        code = (
            "import logging, sys, ray\n"
            "ray.init(address=sys.argv[1], log_to_driver=False, include_dashboard=False,"
            " logging_level=logging.ERROR)\nray.shutdown()\n"
        )
        try:
            done = subprocess.run(
                [sys.executable, "-c", code, self.address],
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env={**os.environ, "RAY_BACKEND_LOG_LEVEL": "error"},
            )
        except subprocess.TimeoutExpired:
            raise UsageError(
                f"--ray-address {self.address}: Ray did not connect within {self.timeout:g} s; "
                "check that a Ray cluster of this Ray version runs there (`ray status`), or "
                "raise --ray-timeout"
            ) from None
        if done.returncode != 0:
            lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            last = lines[-1][:200] if lines else f"exit status {done.returncode}"
            raise UsageError(
                f"--ray-address {self.address}: Ray could not connect ({last}); check the "
                "address (`ray status` on the head node prints it)"
            )

    @staticmethod
    def _restore(handlers) -> None:
        """Put back the signal handlers Ray replaced (SIGTERM must unwind like Ctrl-C)."""

        if threading.current_thread() is not threading.main_thread():
            return
        for sig, handler in handlers.items():
            # always re-set: Ray's C++ failure handler takes SIGTERM with sigaction, behind
            # Python's back (getsignal still shows the old handler), and dumps a stack on it
            if handler is not None:
                signal.signal(sig, handler)

    def shutdown(self) -> None:
        """Shut down the Ray instance this executor connected (no-op otherwise)."""
        if self._started:
            ray = self._import_ray()
            ray.shutdown()
            self._stop.set()  # the thread that started Ray ends
            self._started = False

    def map_unordered(self, fn, jobs):
        ray = self._import_ray()
        jobs = iter(jobs)
        if not ray.is_initialized():
            self.connect()
        remote = ray.remote(num_cpus=self.num_cpus_per_trial)(fn)
        # claims follow the cluster's capacity: submit a little more than it can run at once
        capacity = max(1, int(ray.cluster_resources().get("CPU", 1) / self.num_cpus_per_trial)) + 1
        pending = {remote.remote(job): job for job in itertools.islice(jobs, capacity)}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    job = pending.pop(ref)
                    try:
                        yield ray.get(ref)
                    except Exception as err:
                        yield crashed_outcome(job, err)
                    following = next(jobs, None)
                    if following is not None:
                        pending[remote.remote(following)] = following
        except BaseException:  # Ctrl-C / SIGTERM / the sweep stopped: no task keeps running
            for ref in pending:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - best effort while stopping
                    pass
            self.shutdown()
            raise
