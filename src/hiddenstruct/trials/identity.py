"""Trial identity: the experiment plus the resolved trial config, hashed (open_lth's ``hashname`` idea).

``trial_identity(experiment, trial)`` is :func:`~hiddenstruct.trials.hashing.config_hash` of
``{"experiment": experiment, "trial": trial}`` where the trial leaves out

- its ``runtime`` part (paths, device: where and how it runs, not what it computes) and the
  legacy top-level ``data_dir`` key of 0.1.0 trials — data is identified by its content
  (dataset name, sizes, seeds), not by the folder it was read from;
- fields added after trials were stored while they hold their default (``added``), so adding a
  defaulted field renames no stored trial.

So two experiments with equal configs never share a row, and ``--data-dir`` or ``--device``
never re-run a finished trial. Version 0.1.0 hashed the bare config; stores written by it are
re-keyed on open (see :mod:`hiddenstruct.trials.migration`).

Example::

    >>> trial_identity("prune-ffn", {"lr": 0.1, "runtime": {"device": "cpu"}})
    ...  == trial_identity("prune-ffn", {"lr": 0.1, "runtime": {"device": "cuda"}})
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hiddenstruct.errors import UsageError
from hiddenstruct.trials.hashing import config_hash, to_jsonable

RUNTIME_KEY = "runtime"
NON_IDENTITY_KEYS = frozenset({RUNTIME_KEY, "data_dir"})


def identity_body(trial: Any, added: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The part of a trial config that identifies it (see the module docstring)."""
    resolved = to_jsonable(trial)
    if not isinstance(resolved, dict):
        raise UsageError(
            f"a trial config must be a dict or a dataclass, got {type(trial).__name__}"
        )
    defaults = {k: to_jsonable(v) for k, v in (added or {}).items()}
    return {
        k: v
        for k, v in resolved.items()
        if k not in NON_IDENTITY_KEYS and not (k in defaults and v == defaults[k])
    }


def trial_identity(experiment: str, trial: Any, added: Mapping[str, Any] | None = None) -> str:
    """sha256 hex identity of ``trial`` within ``experiment``."""
    return config_hash({"experiment": experiment, "trial": identity_body(trial, added)})
