"""The settings of prune-ffn, kept free of torch so the CLI starts fast.

``PruneFFNConfig``, its presets and its trial expansion for ``hiddenstruct experiment prune-ffn``
(paper §4.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hiddenstruct.errors import UsageError
from hiddenstruct.trials.config import repeated_trials, trial_parts
from hiddenstruct.trials.settings import ExperimentConfig, device_setting, setting, threads_setting

EXPERIMENT = "prune-ffn"
BASE_EXPERIMENT = "prune-ffn-base"
TABLE_POINTS = (0.5, 0.6, 0.8, 0.9, 0.95)
METHODS: dict[str, tuple[str, str]] = {
    "random": ("random", "class_blinded"),
    "class_blinded": ("magnitude", "class_blinded"),
    "class_uniform": ("magnitude", "class_uniform"),
    "class_distributed": ("magnitude", "class_distributed"),
    "obd": ("obd", "class_blinded"),
    # not in the paper (§4.1 compares the five above); layer-wise OBS (Dong et al. 2017) with
    # its weight update, one global threshold as magnitude class-blinded: on MNIST
    # LeNet-300-100 it kept more accuracy than per-layer selection (docs/pruning.md)
    "lobs": ("lobs", "class_blinded"),
}
#: the methods run unless --methods says otherwise (the paper's five; extra ones are opt-in)
DEFAULT_METHODS = ("random", "class_blinded", "class_uniform", "class_distributed", "obd")
SCHEDULE_NAMES = ("relative", "fixed_size")
RETRAIN_CHOICES = {"both": (False, True), "yes": (True,), "no": (False,)}
# settings of the base model every method of an (architecture, seed) starts from
BASE_KEYS = (
    "dataset", "train_subset", "hidden", "seed", "optimizer", "lr", "batch_size", "epochs",
    "lr_decay", "patience", "threads",
)  # fmt: skip


def architecture(text: str) -> tuple[int, ...]:
    """Hidden sizes written ``300-100`` (one MLP); ValueError when malformed."""
    try:
        sizes = tuple(int(part) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"expected hidden sizes like 300-100, got {text!r}") from None
    if not sizes or any(s < 1 for s in sizes):
        raise ValueError(f"hidden sizes must be positive, got {text!r}")
    return sizes


def retrain_variants(text: str) -> tuple[bool, ...]:
    """``both`` → (False, True), ``yes`` → (True,), ``no`` → (False,); ValueError otherwise."""
    if text not in RETRAIN_CHOICES:
        raise ValueError(f"expected one of {', '.join(RETRAIN_CHOICES)}, got {text!r}")
    return RETRAIN_CHOICES[text]


def retrain_name(variants: tuple[bool, ...]) -> str:
    """The CLI name of retrain variants (inverse of :func:`retrain_variants`)."""
    names = {value: name for name, value in RETRAIN_CHOICES.items()}
    return names.get(tuple(variants), " ".join(str(v).lower() for v in variants))


HELP = "prune MLPs with five methods: Figure 2a and accuracy table at 50-95 % removed"
DESCRIPTION = (
    "Train ReLU MLPs (hidden 100 and 300-100) on digits (default) or MNIST "
    "(--dataset mnist --data-dir DIR), then prune iteratively with random, magnitude "
    "class-blinded / class-uniform / class-distributed and Optimal Brain Damage, with and "
    "without retraining after each step. Each base model is a trial of its own, trained once "
    "per store and shared by every method. Trials are stored (re-running resumes). Writes "
    "curves.csv, table.csv and figure2a_<arch>_<schedule>.png into --output."
)


@dataclass(frozen=True)
class PruneFFNConfig(ExperimentConfig):
    """Settings of ``hiddenstruct experiment prune-ffn`` (defaults = the ``small`` preset)."""

    dataset: str = setting(
        "digits", "digits (embedded 8×8) or mnist (needs --data-dir)", choices=("digits", "mnist")
    )
    data_dir: str | None = setting(
        None, "folder holding the MNIST IDX files", metavar="DIR", runtime=True
    )
    architectures: tuple[tuple[int, ...], ...] = setting(
        ((100,), (300, 100)),
        "hidden sizes per MLP, e.g. 100 300-100",
        low=1,
        parse=architecture,
        metavar="SIZES",
    )
    methods: tuple[str, ...] = setting(
        DEFAULT_METHODS, "pruning methods (lobs: opt-in, not in the paper)", choices=tuple(METHODS)
    )
    schedules: tuple[str, ...] = setting(
        ("relative",),
        "relative (p of the remaining weights per step) and/or fixed_size",
        choices=SCHEDULE_NAMES,
    )
    relative_p: float = setting(
        0.2, "fraction of the remaining weights pruned per relative step", low=0, high=1,
        low_open=True,
    )  # fmt: skip
    fixed_fraction: float = setting(
        0.05, "fixed-size step as a fraction of all weights", low=0, high=1, low_open=True
    )
    max_zero_fraction: float = setting(
        0.95, "stop once this fraction of weights is removed", low=0, high=1, low_open=True
    )
    retrain: tuple[bool, ...] = setting(
        (False, True),
        "retrain after each step: both variants, only yes or only no "
        "(in a --config file: a list of booleans, e.g. [false, true])",
        parse=retrain_variants,
        show=retrain_name,
        nargs=None,
        metavar="{both,yes,no}",
    )
    retrain_epochs: int = setting(1, "retraining epochs after each pruning step", low=1)
    repeats: int = setting(2, "seeds per setting", low=1)
    seed: int = setting(0, "first seed (repeat r uses seed + r)")
    optimizer: str = setting("adam", "base optimizer", choices=("adam", "sgd"))
    lr: float = setting(1e-3, "learning rate", low=0, low_open=True)
    retrain_lr: float | None = setting(
        None, "retraining learning rate (none: same as --lr)", low=0, low_open=True
    )
    batch_size: int = setting(64, "batch size", low=1)
    epochs: int = setting(30, "base training epochs (an upper bound with --lr-decay)", low=1)
    lr_decay: bool = setting(
        False, "ReduceLROnPlateau ×0.1 down to lr/100 and early stop after --patience epochs"
    )
    patience: int = setting(10, "epochs without validation gain before early stop", low=1)
    obd_samples: int = setting(
        1000, "training samples for the OBD Hessian diagonal and the L-OBS layer Hessians", low=1
    )
    obd_method: str = setting(
        "auto",
        "OBD Hessian diagonal: exact closed form (auto for MLPs), Hutchinson, Fisher",
        choices=("auto", "exact", "hutchinson", "fisher"),
    )
    train_subset: int | None = setting(
        None, "train on the first N training images of a seeded shuffle (none: all)", low=1
    )
    threads: int = threads_setting()
    device: str = device_setting()

    def check(self) -> None:
        """Cross-field rules: MNIST needs its folder."""
        from hiddenstruct.data.images import image_dataset_info

        if image_dataset_info(self.dataset).needs_data_dir and not self.data_dir:
            raise UsageError(f"dataset {self.dataset!r} needs --data-dir (folder with its files)")


Config = PruneFFNConfig

PRESETS: dict[str, dict[str, Any]] = {
    "small": {},
    # §4.1: SGD lr 0.01 decayed to 1e-4, batch 64, up to 200 epochs; 5 repeats is our choice
    "paper": dict(
        optimizer="sgd",
        lr=0.01,
        batch_size=64,
        epochs=200,
        lr_decay=True,
        repeats=5,
        schedules=SCHEDULE_NAMES,
    ),  # fmt: skip
    "demo": dict(
        architectures=((100,),),
        repeats=1,
        epochs=25,
        lr=3e-3,
        batch_size=128,
        relative_p=0.35,
        obd_samples=200,
    ),  # fmt: skip
}


def trial_configs(config: PruneFFNConfig) -> list[dict[str, Any]]:
    """One trial config per (architecture, method, schedule, retrain, repeat)."""
    sweep = ("architectures", "methods", "schedules", "retrain", "repeats", "seed")
    axes = {
        "hidden": config.architectures,
        "schedule": config.schedules,
        "retrain": config.retrain,
        "method": config.methods,
    }
    return repeated_trials(
        config, trial_parts(config, sweep), axes,
        lambda common, hidden, schedule, retrain, method: {
            **common,
            "hidden": list(hidden),
            "method": method,
            "schedule": schedule,
            "retrain": bool(retrain),
        },
    )  # fmt: skip


def base_config(trial: dict[str, Any]) -> dict[str, Any]:
    """The base-model trial a pruning trial starts from (shared by all its methods)."""
    return {**{k: trial[k] for k in BASE_KEYS}, "runtime": dict(trial["runtime"])}
