"""Variable-length batches for recurrent layers: length checks, packing once for a stack of
layers, and final states read from padded runs (exact: padded steps come after each
sequence's last step and cannot influence it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Union

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

if TYPE_CHECKING:
    from hiddenstruct.nn.rnn import RecurrentMode

State = Union[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]  # noqa: UP007 (runtime alias, py3.10)
"""A layer's recurrent state: ``h`` [B, H], or ``(h, c)`` for LSTM."""


def hidden_of(state: State) -> torch.Tensor:
    """The hidden state ``h`` of a layer state (drops the LSTM cell state)."""
    return state[0] if isinstance(state, tuple) else state


def _select_state(state: State, index: torch.Tensor) -> State:
    if isinstance(state, tuple):
        return tuple(s.index_select(0, index) for s in state)
    return state.index_select(0, index)


def check_lengths(lengths: torch.Tensor | Sequence[int], batch: int, steps: int) -> torch.Tensor:
    """Lengths as a CPU int64 tensor; raises ``ValueError`` when one is outside [1, steps]."""
    lengths = torch.as_tensor(lengths).detach().to("cpu", torch.int64).reshape(-1)
    if lengths.numel() != batch:
        raise ValueError(f"lengths has {lengths.numel()} entries for a batch of {batch} sequences")
    if batch and (int(lengths.min()) < 1 or int(lengths.max()) > steps):
        raise ValueError(
            f"sequence lengths must lie in [1, {steps}] (the padded length), "
            f"got min {int(lengths.min())}, max {int(lengths.max())}"
        )
    return lengths


def prefers_padded(spec: RecurrentMode, x: torch.Tensor) -> bool:
    """Whether to run padded input and gather each sequence's last step instead of packing.

    True for LSTM on CPU in float32: PyTorch runs unpacked LSTMs through oneDNN's fused
    kernel (forward and backward), which beats the packed per-step loop even though it
    also computes the padded steps. Only final *hidden* states can be read this way.
    """
    return (
        spec.has_cell
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and torch.backends.mkldnn.is_available()
        and bool(torch.backends.mkldnn.enabled)
    )


def gather_last(
    output: torch.Tensor, lengths: torch.Tensor, batch_first: bool = True
) -> torch.Tensor:
    """Rows ``output[b, lengths[b] − 1]`` [B, H] of a padded output sequence."""
    time_dim = 1 if batch_first else 0
    last = lengths.to(output.device) - 1
    shape = (-1, 1, output.shape[-1]) if batch_first else (1, -1, output.shape[-1])
    index = last.view(*shape[:2], 1).expand(*shape[:2], output.shape[-1])
    return output.gather(time_dim, index).squeeze(time_dim)


def padded_final_states(
    run: Callable[[torch.Tensor], list[torch.Tensor]],
    x: torch.Tensor,
    lengths: torch.Tensor,
) -> list[torch.Tensor]:
    """Final hidden states from padded runs of a batch-first ``x``, by length bucket.

    ``run(x_sub)`` returns padded output sequences [b, T_sub, H] (one per wanted layer).
    Rows are sorted by length and, when it saves over a quarter of the padded steps, split
    in two buckets, each run only up to its own longest sequence; every sequence's state is
    read at its true last step (exact, as later padded steps cannot influence earlier ones).
    """
    batch = x.shape[0]
    order = torch.argsort(lengths, descending=True, stable=True)
    ordered = lengths[order]
    longest = int(ordered[0])
    split = batch
    if batch > 1:
        rows = torch.arange(1, batch)
        work = rows * longest + (batch - rows) * ordered[1:]
        best = int(torch.argmin(work))
        if float(work[best]) < 0.75 * batch * longest:
            split = best + 1
    parts: list[list[torch.Tensor]] = []
    for rows in (order[:split], order[split:]):
        if rows.numel() == 0:
            continue
        sub_lengths = lengths[rows]
        sub = x.index_select(0, rows.to(x.device))[:, : int(sub_lengths.max())]
        parts.append([gather_last(out, sub_lengths) for out in run(sub)])
    inverse = torch.argsort(order).to(x.device)
    return [
        torch.cat(layer_parts).index_select(0, inverse) for layer_parts in zip(*parts, strict=True)
    ]


class PackedRun:
    """A batch packed once for several recurrent layers: sorting and unsorting helpers."""

    def __init__(self, x: torch.Tensor, lengths, batch_first: bool = True) -> None:
        batch, steps = (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])
        self.lengths = check_lengths(lengths, batch, steps)
        self.steps = steps
        self.batch_first = batch_first
        packed = pack_padded_sequence(
            x, self.lengths, batch_first=batch_first, enforce_sorted=False
        )
        self.data = packed.data
        self.batch_sizes = packed.batch_sizes
        self.sorted_indices = packed.sorted_indices
        self.unsorted_indices = packed.unsorted_indices
        self._template = packed

    def to_sorted(self, state: State | None) -> State | None:
        """A user-order state permuted into the packed (length-sorted) order."""
        return None if state is None else _select_state(state, self.sorted_indices)

    def to_user(self, state: State) -> State:
        """A packed-order state permuted back into the caller's batch order."""
        return _select_state(state, self.unsorted_indices)

    def pad(self, data: torch.Tensor) -> torch.Tensor:
        """Packed output data back to a zero-padded tensor in the caller's layout."""
        packed = self._template._replace(data=data)
        out, _ = pad_packed_sequence(packed, batch_first=self.batch_first, total_length=self.steps)
        return out


_PACKED_KERNELS = {"tanh": torch._VF.rnn_tanh, "relu": torch._VF.rnn_relu, "gru": torch._VF.gru}


def pytorch_final_hidden(
    kind: str,
    x: torch.Tensor,
    sizes: list[int],
    rows: torch.Tensor,
    weights,
    in_begin: Sequence[int] | None = None,
    out_begin: int | None = None,
) -> torch.Tensor:
    """Final states at packed ``rows`` of a stack run over packed ``x`` from zero states, on
    PyTorch's packed kernels (differentiable twice).

    ``kind``: ``tanh``, ``relu``, ``gru`` or ``lstm``; ``sizes``: the packed batch sizes;
    ``weights``: per layer ``w_ih, w_hh, b_ih, b_hh``. Layer ``l > 0`` reads the columns
    ``[in_begin[l], offset(l))`` of the layers' concatenated outputs (default: the previous
    layer), and the columns ``[out_begin, S)`` are returned (default: the last layer). The
    hand-written stack kernels use it to differentiate their backward (double backward)."""
    batch_sizes = torch.tensor(sizes, dtype=torch.int64)
    outputs: list[torch.Tensor] = []
    for layer in range(len(weights) // 4):
        w = list(weights[4 * layer : 4 * layer + 4])
        if layer == 0:
            data = x
        else:
            begin = sum(o.shape[1] for o in outputs[:-1]) if in_begin is None else in_begin[layer]
            data = torch.cat(outputs, dim=1)[:, begin:]
        h0 = x.new_zeros(1, sizes[0], w[1].shape[1])
        if kind == "lstm":
            out = torch._VF.lstm(data, batch_sizes, (h0, h0), w, True, 1, 0.0, False, False)[0]
        else:
            out = _PACKED_KERNELS[kind](data, batch_sizes, h0, w, True, 1, 0.0, False, False)[0]
        outputs.append(out)
    concatenated = torch.cat(outputs, dim=1)
    begin = concatenated.shape[1] - outputs[-1].shape[1] if out_begin is None else out_begin
    return concatenated[:, begin:].index_select(0, rows)


def recomputed_grads(recompute, tensors, wanted, d_out: torch.Tensor) -> list:
    """Gradients of ``recompute()`` (a function of ``tensors``) with respect to the
    ``tensors`` whose ``wanted`` flag is set, ``None`` for the others, with a graph
    (``create_graph=True``): how the hand-written stack kernels answer a double backward."""
    inputs = [t for t, need in zip(tensors, wanted, strict=True) if need]
    found = iter(torch.autograd.grad(recompute(), inputs, d_out, create_graph=True))
    return [next(found) if need else None for need in wanted]
