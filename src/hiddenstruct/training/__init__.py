"""Training and evaluation of classifiers: loop, optimisers, seeding, progress."""

from hiddenstruct.training.loop import (
    EpochMetrics,
    Evaluation,
    TrainHistory,
    evaluate,
    train,
)
from hiddenstruct.training.optim import OPTIMIZERS, make_optimizer
from hiddenstruct.training.seeding import default_device, seed_everything, torch_threads

__all__ = [
    "OPTIMIZERS",
    "EpochMetrics",
    "Evaluation",
    "TrainHistory",
    "default_device",
    "evaluate",
    "make_optimizer",
    "seed_everything",
    "torch_threads",
    "train",
]
