"""Shared work as trials of their own: computed once per store, then loaded by dependent trials.

A *shared* trial (e.g. the base model every pruning method of an (architecture, seed) starts
from) is an ordinary stored trial whose output is an artifact file. :func:`run_shared` runs the
distinct shared trials first (each once, on any executor; resume skips finished ones) and
returns, per identity, the stored result and artifact paths for the dependent trials.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hiddenstruct.errors import HiddenstructError
from hiddenstruct.trials.artifacts import artifact_root, resolve_artifact
from hiddenstruct.trials.executors import Executor, TrialFn, run_trials
from hiddenstruct.trials.store import TrialStore


def artifact_dir(store: TrialStore) -> Path:
    """Folder of a store's artifact files: ``<store folder>/artifacts/`` (one sub-folder per
    trial hash; see :mod:`hiddenstruct.trials.artifacts`)."""
    return artifact_root(store.path)


def run_shared(
    experiment: str,
    configs: Sequence[dict[str, Any]],
    fn: TrialFn,
    store: TrialStore,
    executor: Executor | None = None,
    progress: bool = True,
    added: Mapping[str, Any] | None = None,
) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """Run the shared trials not yet done; identity → (result, artifacts) of each one
    (``added``: keys left out of identity at these values, as in :func:`run_trials`)."""
    folder = artifact_dir(store)
    configs = [
        {**c, "runtime": {**c.get("runtime", {}), "artifact_dir": str(folder)}} for c in configs
    ]
    records = run_trials(experiment, configs, fn, store, executor, progress=progress, added=added)
    out = {}
    for record in records:
        if record.status != "done":
            raise HiddenstructError(
                f"shared {experiment} trial {record.hash[:12]} failed; the trials that need it "
                f"cannot run (error: {(record.error or '').strip().splitlines()[-1:]})"
            )
        artifacts = {
            name: str(resolve_artifact(store.path, path))
            for name, path in store.artifacts(record.hash).items()
        }
        missing = [p for p in artifacts.values() if not Path(p).is_file()]
        if missing:
            raise HiddenstructError(
                f"artifact {Path(missing[0]).name} of finished {experiment} trial "
                f"{record.hash[:12]} is missing from {folder}; restore it or use a fresh --store"
            )
        out[record.hash] = (record.result or {}, artifacts)
    return out
