"""What an experiment is: one :class:`Experiment` subclass per experiment package.

The registry (:mod:`hiddenstruct.experiments.registry`) holds one instance of each; the
``experiment`` command, ``demo``, the report and the preflight checks ask that object, never a
table keyed by name. A subclass names itself, its config type and presets, lists its trials
and runs one; sweeping, identities, running, the demo step and the checks have defaults it
overrides only where the experiment differs (docs/experiments.md, "Adding an experiment").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hiddenstruct.trials.config import added_defaults, resolve_config
from hiddenstruct.trials.executors import Executor, TrialLogger, run_trials
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.store import TrialRecord, TrialStore


class Experiment:
    """One experiment of the paper: its settings, its trials, and what it writes.

    Required: the class attributes below, :meth:`trials`, :meth:`run_trial` and
    :meth:`write_outputs`. A method that only calls the package's function of the same
    arguments is that function, bound as ``trials = staticmethod(trial_configs)``; the trial
    function is a :class:`TrialRunner` of the package's ``trial`` module.
    """

    name: ClassVar[str]  # `hiddenstruct experiment NAME`, the store's experiment column
    # help and description as shown (a plain %: the CLI escapes the help for argparse)
    help: ClassVar[str]  # one line for `hiddenstruct experiment --help`
    description: ClassVar[str]  # a paragraph for `hiddenstruct experiment NAME --help`
    config_type: ClassVar[type]  # frozen dataclass of `hiddenstruct.trials.config.setting`s
    presets: ClassVar[dict[str, dict[str, Any]]]  # small (the defaults), paper, demo
    report_section: ClassVar[Any] = None  # its section of report.html (a SectionSpec), if any
    #: the report's scale banner: (label, trial config key, how, paper value or the paper
    #: config's field); ``value``: the trials' values must equal the paper's, ``set``: the set
    #: of their values must equal the paper's list, ``count``: so many distinct values
    paper_scale: ClassVar[tuple[tuple[str, str, str, Any], ...]] = ()
    #: `hiddenstruct results list`'s columns: header → function of a trial record (none: the
    #: config keys that differ between the listed trials and the first numeric result)
    list_columns: ClassVar[dict[str, Callable[[TrialRecord], Any]]] = {}

    def make_config(self, preset: str = "small", **overrides: Any) -> Any:
        """The config from a preset plus overrides (validated)."""
        return resolve_config(self.config_type, self.presets, preset, {}, overrides)

    def trials(self, config: Any) -> list[dict[str, Any]]:
        """The trial configs of ``config``, in order (their hashes are the trials' identities)."""
        raise NotImplementedError

    def run_trial(self, trial: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
        """Run one trial; its result is stored as JSON."""
        raise NotImplementedError

    def plan(self, config: Any) -> list[dict[str, Any]] | None:
        """The trials a run builds once, before anything is created, and hands to
        :meth:`identities` and :meth:`sweep`, so input files (Reber CSVs, graph files) are
        read once; None where they are only known during the sweep. Default: :meth:`trials`."""
        return self.trials(config)

    def identities(self, config: Any, trials: list[dict[str, Any]] | None = None) -> list[str]:
        """The trials' identities, in :meth:`trials` order (pinned by the golden tests);
        ``trials``: :meth:`plan`'s list when already built (None: built here)."""
        added = added_defaults(type(config))
        planned = self.trials(config) if trials is None else trials
        return [trial_identity(self.name, t, added) for t in planned]

    def sweep(
        self,
        config: Any,
        store: TrialStore,
        executor: Executor | None = None,
        progress: bool = True,
        trials: list[dict[str, Any]] | None = None,
    ) -> Any:
        """Run (or resume) every trial in ``store``; the results :meth:`write_outputs` reads.
        ``trials``: :meth:`plan`'s list when already built (None: built here)."""
        added = added_defaults(type(config))
        planned = self.trials(config) if trials is None else trials
        return run_trials(
            self.name, planned, self.run_trial, store, executor, progress, added=added
        )

    def write_outputs(self, results: Any, out_dir: Path, config: Any = None) -> dict[str, str]:
        """Tables and figures from :meth:`sweep`'s results; label → path (or a short note)."""
        raise NotImplementedError

    def run(
        self,
        config: Any,
        store: TrialStore,
        out_dir: Path,
        executor: Executor | None = None,
        progress: bool = True,
    ) -> dict[str, str]:
        """Sweep, then write the outputs; label → path (or a short note)."""
        return self.write_outputs(self.sweep(config, store, executor, progress), out_dir, config)

    def check_data(self, config: Any) -> None:
        """Raise :class:`~hiddenstruct.errors.DataError` before any trial is queued when the
        data ``config`` names cannot be read (default: nothing to check)."""

    def demo_step(
        self, out_dir: Path, store: TrialStore, seed: int, threads: int = 1
    ) -> dict[str, str]:
        """``hiddenstruct demo``'s step: the ``demo`` preset at ``seed`` with ``threads`` torch
        threads per trial, without progress."""
        config = self.config_type(**{**self.presets["demo"], "seed": seed, "threads": threads})
        return self.run(config, store, out_dir, progress=False)


@dataclass(frozen=True)
class TrialRunner:
    """An experiment's trial function, named by module and function and imported on the first
    call: every command line imports the experiment classes to build its parsers, and the
    runners (each package's ``trial`` module) load torch at their top. It pickles as the two
    names, so process pools and Ray workers import the runner themselves."""

    module: str
    function: str

    def __call__(self, trial: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
        return getattr(importlib.import_module(self.module), self.function)(trial, log)


def config_column(key: str) -> Callable[[TrialRecord], Any]:
    """A ``list_columns`` entry: the trial config's ``key``."""
    return lambda t: t.config.get(key)


def result_column(key: str) -> Callable[[TrialRecord], Any]:
    """A ``list_columns`` entry: the trial result's ``key``."""
    return lambda t: (t.result or {}).get(key)
