"""Settings of the pruning experiments, kept free of torch so the CLI starts fast.

``PruneFFNConfig`` and its trial expansion for ``hiddenstruct experiment prune-ffn``
(paper §4.1), and the mode / scope names of ``prune-rnn`` (paper §4.2).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from hiddenstruct.errors import UsageError
from hiddenstruct.recurrent_modes import MODE_NAMES as RNN_MODES  # noqa: F401 (re-exported)

RNN_SCOPES = ("both", "i2h", "h2h")

EXPERIMENT = "prune-ffn"
TABLE_POINTS = (0.5, 0.6, 0.8, 0.9, 0.95)
METHODS: dict[str, tuple[str, str]] = {
    "random": ("random", "class_blinded"),
    "class_blinded": ("magnitude", "class_blinded"),
    "class_uniform": ("magnitude", "class_uniform"),
    "class_distributed": ("magnitude", "class_distributed"),
    "obd": ("obd", "class_blinded"),
}
SCHEDULE_NAMES = ("relative", "fixed_size")


@dataclass(frozen=True)
class PruneFFNConfig:
    """Settings of ``hiddenstruct experiment prune-ffn`` (CPU-sized defaults; see ``paper()``)."""

    dataset: str = "digits"  # digits | mnist
    data_dir: str | None = None
    architectures: tuple[tuple[int, ...], ...] = ((100,), (300, 100))
    methods: tuple[str, ...] = tuple(METHODS)
    schedules: tuple[str, ...] = ("relative",)
    relative_p: float = 0.2  # fraction of the remaining weights per step
    fixed_fraction: float = 0.05  # fixed-size step as a fraction of all weights
    max_zero_fraction: float = 0.95
    retrain: tuple[bool, ...] = (False, True)
    retrain_epochs: int = 1
    repeats: int = 2
    seed: int = 0
    optimizer: str = "adam"
    lr: float = 1e-3
    retrain_lr: float | None = None  # None: same as lr
    batch_size: int = 64
    epochs: int = 30
    lr_decay: bool = False  # ReduceLROnPlateau ×0.1 down to lr/100, early stop at convergence
    patience: int = 10
    obd_samples: int = 1000
    obd_method: str = "auto"
    train_subset: int | None = None

    @staticmethod
    def paper(**overrides: Any) -> PruneFFNConfig:
        """The paper's settings: SGD lr 0.01 (decayed to 1e-4), batch 64, up to 200 epochs."""
        values = dict(
            optimizer="sgd",
            lr=0.01,
            batch_size=64,
            epochs=200,
            lr_decay=True,
            repeats=5,
            schedules=SCHEDULE_NAMES,
        )
        values.update(overrides)
        return PruneFFNConfig(**values)

    def validate(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise UsageError(f"unknown pruning methods {unknown}; valid: {', '.join(METHODS)}")
        bad = [s for s in self.schedules if s not in SCHEDULE_NAMES]
        if bad:
            raise UsageError(f"unknown schedules {bad}; valid: {', '.join(SCHEDULE_NAMES)}")
        from hiddenstruct.data.images import image_dataset_info

        info = image_dataset_info(self.dataset)
        if info.needs_data_dir and not self.data_dir:
            raise UsageError(f"dataset {self.dataset!r} needs --data-dir (folder with its files)")
        if not 0 < self.max_zero_fraction <= 1 or not 0 < self.relative_p <= 1:
            raise UsageError("max_zero_fraction and relative_p must lie in (0, 1]")
        if self.repeats < 1 or not self.architectures or not self.methods:
            raise UsageError("need at least one repeat, architecture and method")


def trial_configs(config: PruneFFNConfig) -> list[dict[str, Any]]:
    """One plain-dict config per (architecture, method, schedule, retrain, repeat)."""
    config.validate()
    common = {
        k: v
        for k, v in asdict(config).items()
        if k not in ("architectures", "methods", "schedules", "retrain", "repeats", "seed")
    }
    out = []
    for repeat in range(config.repeats):
        for hidden in config.architectures:
            for schedule in config.schedules:
                for retrain in config.retrain:
                    for method in config.methods:
                        out.append(
                            {
                                **common,
                                "hidden": list(hidden),
                                "method": method,
                                "schedule": schedule,
                                "retrain": bool(retrain),
                                "repeat": repeat,
                                "seed": config.seed + repeat,
                            }
                        )
    return out
