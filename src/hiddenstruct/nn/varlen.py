"""Recurrent stacks over variable-length batches: how layers connect (:class:`Wiring`),
length checks, and the stack on PyTorch's own kernels — the fallback of the native engine
(:mod:`hiddenstruct.nn.rnn_native`) and what its double backward differentiates."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Union

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from hiddenstruct.recurrent_modes import RecurrentMode

State = Union[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]  # noqa: UP007 (runtime alias, py3.10)
"""A layer's recurrent state: ``h`` [B, H], or ``(h, c)`` for LSTM."""


def hidden_of(state: State) -> torch.Tensor:
    """The hidden state ``h`` of a layer state (drops the LSTM cell state)."""
    return state[0] if isinstance(state, tuple) else state


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


@dataclass(frozen=True)
class Wiring:
    """How a stack's layers connect. Layer ``l`` has ``hidden[l]`` units; layer 0 reads the
    input, layer ``l > 0`` the columns ``[in_begin[l], offset(l))`` of the layers'
    concatenated outputs (``offset(l)`` = the units of layers ``< l``); final states are the
    concatenated outputs' columns ``[out_begin, S)`` at each sequence's last step."""

    mode: RecurrentMode
    hidden: tuple[int, ...]
    in_begin: tuple[int, ...]
    out_begin: int

    @staticmethod
    def chain(mode: RecurrentMode, hidden, all_layers: bool = False) -> Wiring:
        """Layer ``l`` reads layer ``l − 1`` (:class:`~hiddenstruct.nn.rnn.MaskedRNN`)."""
        return _wiring(mode, tuple(int(h) for h in hidden), False, all_layers)

    @staticmethod
    def dag(mode: RecurrentMode, hidden, all_layers: bool = False) -> Wiring:
        """Layer ``l`` reads all earlier layers (:class:`~hiddenstruct.nn.graphrnn.GraphRNN`)."""
        return _wiring(mode, tuple(int(h) for h in hidden), True, all_layers)

    def input_width(self, layer: int, features: int) -> int:
        """Columns that layer ``layer`` reads (``features`` for layer 0)."""
        return features if layer == 0 else sum(self.hidden[:layer]) - self.in_begin[layer]


@functools.cache
def _wiring(mode: RecurrentMode, hidden: tuple[int, ...], dag: bool, all_layers: bool) -> Wiring:
    offsets = [0]
    for h in hidden:
        offsets.append(offsets[-1] + h)
    in_begin = (0,) * len(hidden) if dag else (0, *offsets[:-2])
    return Wiring(mode, hidden, in_begin, 0 if all_layers else offsets[-2])


class StackResult(NamedTuple):
    """A stack run: the last layer's outputs [B, T, H_last] (zero at padded steps; ``None``
    unless asked), the final states [B, S − out_begin] and, for LSTM when asked, the final
    cell states alike."""

    outputs: torch.Tensor | None
    final: torch.Tensor
    final_c: torch.Tensor | None


def torch_stack(wiring, x, lengths, weights, h0=None, c0=None, outputs=False) -> StackResult:
    """The stack wired by ``wiring`` on PyTorch's kernels (``torch._VF``, cuDNN on CUDA) over
    batch-first ``x`` [B, T, F] with CPU int64 ``lengths`` (or ``None``: all T), packed once;
    ``weights`` per layer ``w_ih, w_hh, b_ih, b_hh`` (masked); ``h0`` / ``c0`` per layer or
    ``None``."""
    mode, batch, steps = wiring.mode, x.shape[0], x.shape[1]
    lengths = torch.full((batch,), steps) if lengths is None else lengths
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    outs, finals, cells = [], [], []
    for layer, hidden in enumerate(wiring.hidden):
        inp = packed.data if layer == 0 else torch.cat(outs, dim=1)[:, wiring.in_begin[layer] :]
        states = [h0, c0] if mode.has_cell else [h0]
        hx = [x.new_zeros(batch, hidden) if s is None else s[layer] for s in states]
        hx = [s.index_select(0, packed.sorted_indices).unsqueeze(0) for s in hx]
        w = list(weights[4 * layer : 4 * layer + 4])
        with warnings.catch_warnings():  # cuDNN: masked weights are never one flat buffer
            warnings.filterwarnings("ignore", message="RNN module weights are not part")
            state = tuple(hx) if mode.has_cell else hx[0]
            result = mode.kernel(inp, packed.batch_sizes, state, w, True, 1, 0.0, False, False)
        outs.append(result[0])
        finals.append(result[1].squeeze(0))
        cells.append(result[-1].squeeze(0))

    def user_order(parts) -> torch.Tensor:
        joined = torch.cat(parts, dim=1)[:, wiring.out_begin :]
        return joined.index_select(0, packed.unsorted_indices)

    last = None
    if outputs:
        last = pad_packed_sequence(packed._replace(data=outs[-1]), True, total_length=steps)[0]
    return StackResult(last, user_order(finals), user_order(cells) if mode.has_cell else None)


def recomputed_grads(recompute, tensors, wanted, d_outs) -> list:
    """Gradients, with a graph (``create_graph=True``), of ``recompute()`` (a function of
    ``tensors`` returning one tensor per entry of ``d_outs``) for the ``tensors`` whose
    ``wanted`` flag is set, ``None`` for the others: how the native engine answers a double
    backward."""
    inputs = [t for t, need in zip(tensors, wanted, strict=True) if need]
    pairs = [(o, d) for o, d in zip(recompute(), d_outs, strict=True) if d is not None]
    found = torch.autograd.grad(
        [o for o, _ in pairs], inputs, [d for _, d in pairs], create_graph=True, allow_unused=True
    )
    found = iter(found)
    return [next(found) if need else None for need in wanted]
