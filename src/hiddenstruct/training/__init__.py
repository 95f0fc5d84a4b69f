"""Training and evaluation of classifiers: loop, optimisers, seeding, progress.

Names are imported lazily (PEP 562) so that importing a light submodule such as
``hiddenstruct.training.progress`` does not load torch (keeps CLI start-up fast).
"""

from __future__ import annotations

from hiddenstruct.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "loop": ("EpochMetrics", "Evaluation", "TrainConfig", "TrainHistory", "evaluate", "train"),
        "optim": ("OPTIMIZERS", "make_optimizer"),
        "seeding": ("default_device", "seed_everything", "torch_threads", "resolve_device"),
        "retrain": ("retrain_hooks",),
    },
)
