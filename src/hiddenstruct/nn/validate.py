"""Input checks of the public recurrent entry points (``MaskedRNN``, ``GraphRNN``): a clear
``ValueError`` for inputs that would otherwise fail deep inside PyTorch or pass silently.

* integer/bool inputs (``x.float()`` is the fix), an empty batch, zero time steps;
* NaN or infinite inputs (they would silently turn every output into NaN);
* lengths that are not whole numbers (``2.7`` would be truncated to ``2``) or not finite.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def check_sequence_batch(
    x: torch.Tensor, lengths: torch.Tensor | Sequence[int] | None = None, batch_first: bool = True
) -> None:
    """Raise ``ValueError`` naming the problem; shapes are checked by the caller."""
    if not torch.is_floating_point(x):
        raise ValueError(
            f"expected a floating-point input tensor, got {x.dtype}; convert it with x.float()"
        )
    batch, steps = (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])
    if batch == 0:
        raise ValueError("the input batch is empty (0 sequences)")
    if steps == 0:
        raise ValueError("the input has 0 time steps; every sequence needs at least one step")
    # a finite sum proves every element finite (NaN and ±inf all reach the sum) at a tenth of
    # the cost of isfinite(x).all(); only a non-finite sum (or an overflow) needs the full check
    if not bool(torch.isfinite(x.detach().sum())) and not bool(torch.isfinite(x).all()):
        bad = (~torch.isfinite(x)).nonzero()[0].tolist()
        raise ValueError(
            f"the input contains NaN or infinite values (first at index {bad}); clean or mask "
            "the data before the model"
        )
    if lengths is not None:
        _check_whole(lengths)


def _check_whole(lengths: torch.Tensor | Sequence[int]) -> None:
    try:
        values = torch.as_tensor(lengths).detach().to("cpu")
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"lengths must be a 1-D sequence of whole numbers ({err})") from None
    if values.dtype == torch.bool:
        raise ValueError("lengths must be whole numbers, got booleans")
    if torch.is_floating_point(values) or values.is_complex():
        whole = torch.isfinite(values) & (values == values.round())
        if not bool(whole.all()):
            bad = values.reshape(-1)[~whole.reshape(-1)][0].item()
            raise ValueError(f"lengths must be whole numbers, got {bad:g}; lengths are step counts")
