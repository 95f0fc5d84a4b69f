"""The paper's experiments by name, and :func:`run_experiment`, which runs any of them.

Each experiment is a module with the same small protocol (:class:`Experiment`): its config
type and presets, ``trials(config)``, ``run_trial(trial, log)``, ``sweep`` (run or resume all
its trials in the store), ``write_outputs(results, out_dir, config)`` and a ``demo_step``. The
CLI's ``experiment`` command and ``demo`` iterate :data:`EXPERIMENTS`. Adding an experiment is
one module plus one line here (see docs/experiments.md).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from hiddenstruct.errors import HiddenstructError, UsageError

# name -> module implementing the protocol, in help and demo order
EXPERIMENTS: dict[str, str] = {
    "prune-ffn": "hiddenstruct.experiments.prune_ffn",
    "prune-rnn": "hiddenstruct.experiments.prune_rnn",
    "priors-rnn": "hiddenstruct.experiments.priors_rnn",
    "nas": "hiddenstruct.experiments.nas",
    "sparse-routes": "hiddenstruct.experiments.sparse_routes",
    "relational-graphs": "hiddenstruct.experiments.relational_graphs",
}


class Experiment(Protocol):
    """What an experiment module provides (module-level names)."""

    NAME: str
    HELP: str  # one line for `hiddenstruct experiment --help`
    DESCRIPTION: str  # paragraph for `hiddenstruct experiment NAME --help`
    Config: type  # frozen dataclass of settings (hiddenstruct.experiments.config.setting fields)
    PRESETS: dict[str, dict[str, Any]]  # small (= the defaults), paper, demo: override sets

    def trials(self, config: Any) -> list[dict[str, Any]]: ...

    def identities(self, config: Any) -> list[str]: ...  # the trials' identities (pinned in tests)

    def run_trial(self, trial: dict[str, Any], log: Any) -> dict[str, Any]: ...

    def sweep(
        self, config: Any, store: Any, executor: Any = None, progress: bool = True
    ) -> Any: ...

    def write_outputs(self, results: Any, out_dir: Path, config: Any = None) -> dict[str, str]: ...

    def demo_step(
        self, out_dir: Path, store: Any, seed: int, threads: int = 1
    ) -> dict[str, str]: ...


def get_experiment(name: str) -> ModuleType:
    """The module of experiment ``name``; unknown names list the valid ones."""
    if name not in EXPERIMENTS:
        raise UsageError(f"unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[name])


def make_config(name: str, preset: str = "small", **overrides: Any) -> Any:
    """The config of experiment ``name`` from a preset plus overrides (validated)."""
    from hiddenstruct.experiments.config import resolve_config

    module = get_experiment(name)
    return resolve_config(module.Config, module.PRESETS, preset, {}, overrides)


def run_experiment(
    name: str,
    config: Any,
    store: Any,
    out_dir: Path,
    executor: Any = None,
    progress: bool = True,
    check: bool = True,
) -> dict[str, str]:
    """Run (or resume) every trial of experiment ``name`` and write its outputs; label → path.

    ``check``: run the experiment's preflight checks first (data files, output folder).
    When every trial failed, raise with the first error; when some did, the outputs of the
    others are written and ``"failed"`` in the returned dict names the first error.
    """
    from hiddenstruct.experiments.store import TrialStore
    from hiddenstruct.experiments.store_checks import check_store_path

    module = get_experiment(name)
    if not isinstance(config, module.Config):
        raise UsageError(f"{name} needs a {module.Config.__name__}, got {type(config).__name__}")
    from hiddenstruct.experiments.preflight import failed_trials, first_error_line, preflight

    check_device(config, executor)
    if not isinstance(store, TrialStore):
        check_store_path(store)  # a dangling link or an unwritable store: before any output
    # the trials are built once before anything is created: input files given in the config
    # (Reber CSVs, graph files) are read here, so a bad one leaves no store and no output
    hashes = module.identities(config)
    connect = getattr(executor, "connect", None)
    if connect is not None:  # Ray: reach the cluster (bounded) before the store is created
        connect()
    if check:  # bad data / output paths fail before any trial is stored
        preflight(name, config, out_dir)
    store = store if isinstance(store, TrialStore) else TrialStore(store)
    results = module.sweep(config, store, executor, progress)
    failed = failed_trials(store, hashes)
    if len(failed) == len(hashes):
        raise HiddenstructError(
            f"all {len(hashes)} {name} trials failed; first error (trial {failed[0].hash[:12]}): "
            f"{first_error_line(failed[0])} (`hiddenstruct results show {failed[0].hash[:12]}` "
            "prints the traceback)"
        )
    written = module.write_outputs(results, Path(out_dir), config)
    if failed:
        written["failed"] = (
            f"{len(failed)} of {len(hashes)} trials; first ({failed[0].hash[:12]}): "
            f"{first_error_line(failed[0])}"
        )
    return written


def check_device(config: Any, executor: Any = None) -> None:
    """UsageError before any trial runs when ``config.device`` is not on this machine.

    Skipped for Ray, whose workers may have devices the driver lacks.
    """
    from hiddenstruct.experiments.executors import RayExecutor

    device = getattr(config, "device", "auto")
    if device != "auto" and not isinstance(executor, RayExecutor):
        from hiddenstruct.training.seeding import resolve_device

        resolve_device(device)
