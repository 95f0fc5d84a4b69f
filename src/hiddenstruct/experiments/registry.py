"""The paper's experiments by name, and :func:`run_experiment`, which runs any of them.

Each experiment is a package with one :class:`~hiddenstruct.experiments.base.Experiment`
subclass; :data:`EXPERIMENTS` holds one instance of each. The CLI's ``experiment`` command,
``demo``, the report and the preflight checks iterate it. Adding an experiment is one package
plus one line here (docs/experiments.md, "Adding an experiment").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hiddenstruct.errors import HiddenstructError, UsageError, lookup
from hiddenstruct.experiments.base import Experiment
from hiddenstruct.experiments.nas.experiment import NAS
from hiddenstruct.experiments.priors_rnn.experiment import PRIORS_RNN
from hiddenstruct.experiments.prune_ffn.experiment import PRUNE_FFN
from hiddenstruct.experiments.prune_rnn.experiment import PRUNE_RNN
from hiddenstruct.experiments.relational_graphs.experiment import RELATIONAL_GRAPHS
from hiddenstruct.experiments.sparse_routes.experiment import SPARSE_ROUTES
from hiddenstruct.trials.executors import RayExecutor
from hiddenstruct.trials.preflight import check_output_dir, failed_trials, first_error_line
from hiddenstruct.trials.store import TrialStore
from hiddenstruct.trials.store_checks import check_store_path

# name -> experiment, in help and demo order
EXPERIMENTS: dict[str, Experiment] = {
    e.name: e for e in (PRUNE_FFN, PRUNE_RNN, PRIORS_RNN, NAS, SPARSE_ROUTES, RELATIONAL_GRAPHS)
}


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; unknown names list the valid ones."""
    return lookup(EXPERIMENTS, name, "experiment")


def make_config(name: str, preset: str = "small", **overrides: Any) -> Any:
    """The config of experiment ``name`` from a preset plus overrides (validated)."""
    return get_experiment(name).make_config(preset, **overrides)


def preflight(name: str, config: Any, out_dir: str | Path | None) -> None:
    """Every check of experiment ``name`` before it queues trials: its data, the output folder."""
    get_experiment(name).check_data(config)
    if out_dir is not None:
        check_output_dir(out_dir)


def run_experiment(
    name: str,
    config: Any,
    store: Any,
    out_dir: Path,
    executor: Any = None,
    progress: bool = True,
) -> dict[str, str]:
    """Run (or resume) every trial of experiment ``name`` and write its outputs; label → path.

    The experiment's preflight checks (data files, output folder) run first. When every trial failed, raise with the first error; when some did, the outputs of the
    others are written and ``"failed"`` in the returned dict names the first error.
    """
    experiment = get_experiment(name)
    if not isinstance(config, experiment.config_type):
        raise UsageError(
            f"{name} needs a {experiment.config_type.__name__}, got {type(config).__name__}"
        )
    check_device(config, executor)
    if not isinstance(store, TrialStore):
        check_store_path(store)  # a dangling link or an unwritable store: before any output
    # the trials are built once, before anything is created: input files given in the config
    # (Reber CSVs, graph files) are read here, so a bad one leaves no store and no output
    trials = experiment.plan(config)
    hashes = experiment.identities(config, trials)
    connect = getattr(executor, "connect", None)
    if connect is not None:  # Ray: reach the cluster (bounded) before the store is created
        connect()
    preflight(name, config, out_dir)  # bad data / output paths fail before any trial is stored
    store = store if isinstance(store, TrialStore) else TrialStore(store)
    results = experiment.sweep(config, store, executor, progress, trials)
    failed = failed_trials(store, hashes)
    if len(failed) == len(hashes):
        raise HiddenstructError(
            f"all {len(hashes)} {name} trials failed; first error (trial {failed[0].hash[:12]}): "
            f"{first_error_line(failed[0])} (`hiddenstruct results show {failed[0].hash[:12]}` "
            "prints the traceback)"
        )
    written = experiment.write_outputs(results, Path(out_dir), config)
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
    device = getattr(config, "device", "auto")
    if device != "auto" and not isinstance(executor, RayExecutor):
        from hiddenstruct.training.seeding import resolve_device  # torch: only for a named device

        resolve_device(device)
