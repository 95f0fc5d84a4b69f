"""Training and evaluation of classifiers: loop, optimisers, seeding, progress.

Names are imported lazily (PEP 562) so that importing a light submodule such as
``hiddenstruct.training.progress`` does not load torch (keeps CLI start-up fast).
"""

from __future__ import annotations

from hiddenstruct.lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
