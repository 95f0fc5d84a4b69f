"""Failure is failure: stop training as soon as the loss or the parameters are not finite,
or the loss exploded.

:class:`DivergenceWatch` notes the first bad loss of an epoch without a device sync per step
on accelerators (checked at the end of the epoch; at once on CPU) and raises
:class:`~hiddenstruct.errors.TrainingDiverged` with where it happened and what to try.
"Exploded" (our choice, not the paper's) means a batch loss above ``EXPLOSION_FACTOR`` times
the first batch loss of the same ``train`` call (at least 1, so a near-zero first loss is no
trigger): Adam at ``lr=1e9`` keeps the loss finite
(3e18 after one epoch on digits) while accuracy sits at chance, and no sane run grows its loss
a million-fold.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from hiddenstruct.errors import TrainingDiverged

EXPLOSION_FACTOR = 1e6


class DivergenceWatch:
    """Tracks the first non-finite loss of the current epoch (``observe``; ``check`` raises)."""

    def __init__(self, device: torch.device, lr: float | None = None) -> None:
        self.device, self.lr = torch.device(device), lr
        self.eager = self.device.type == "cpu"
        self._first: torch.Tensor | None = None
        self._reset()

    def _reset(self) -> None:
        self._step = torch.full((), -1, dtype=torch.long, device=self.device)
        self._value = torch.zeros((), device=self.device)

    def _hint(self) -> str:
        return "try a smaller --lr" + (f" (it was {self.lr:g})" if self.lr is not None else "")

    def observe(self, loss: torch.Tensor, epoch: int, step: int) -> None:
        """Record ``loss`` of ``step`` (1-based); on CPU raise at once when it is not finite."""
        value = loss.detach().float()
        if self._first is None:
            self._first = value.abs().max().clamp_min(1.0)
        bad = ~torch.isfinite(value).all() | (value.abs().max() > EXPLOSION_FACTOR * self._first)
        if self.eager:
            if bool(bad):
                self._raise(epoch, step, value)
            return
        first = bad & (self._step < 0)
        self._step = torch.where(first, torch.tensor(step, device=self.device), self._step)
        self._value = torch.where(first, value.reshape(-1)[0], self._value)

    def check(self, epoch: int, params: Iterable[torch.Tensor]) -> None:
        """End of epoch: raise for a non-finite loss seen, or non-finite parameters."""
        step = int(self._step)
        if step >= 0:
            self._raise(epoch, step, self._value)
        self._reset()
        with torch.no_grad():
            if any(not bool(torch.isfinite(p).all()) for p in params):
                raise TrainingDiverged(
                    f"parameters became NaN or infinite in epoch {epoch}; {self._hint()}"
                )

    def _raise(self, epoch: int, step: int, value: torch.Tensor) -> None:
        if bool(torch.isfinite(value).all()):
            raise TrainingDiverged(
                f"loss exploded to {float(value.abs().max()):.3g} at epoch {epoch}, step {step} "
                f"(over {EXPLOSION_FACTOR:g} x max(1, its first value)); "
                f"{self._hint()}"
            )
        kind = "NaN" if bool(torch.isnan(value).any()) else "infinite"
        raise TrainingDiverged(f"loss became {kind} at epoch {epoch}, step {step}; {self._hint()}")
