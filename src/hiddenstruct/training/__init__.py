"""Training and evaluation of classifiers: loop, optimisers, seeding, progress.

Names are imported lazily (PEP 562) so that importing a light submodule such as
``hiddenstruct.training.progress`` does not load torch (keeps CLI start-up fast).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "EpochMetrics": "loop",
    "Evaluation": "loop",
    "TrainConfig": "loop",
    "TrainHistory": "loop",
    "evaluate": "loop",
    "train": "loop",
    "OPTIMIZERS": "optim",
    "make_optimizer": "optim",
    "default_device": "seeding",
    "seed_everything": "seeding",
    "torch_threads": "seeding",
    "resolve_device": "seeding",
    "retrain_hooks": "retrain",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hiddenstruct.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hiddenstruct.training.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
