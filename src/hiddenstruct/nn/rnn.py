"""Masked recurrent networks (RNN tanh / RNN ReLU / GRU / LSTM) on fused kernels.

Every recurrent layer owns an input-to-hidden weight ``weight_ih`` and a hidden-to-hidden
weight ``weight_hh`` (all gates stacked in PyTorch's order: GRU r,z,n; LSTM i,f,g,o), each
carrying a binary mask (:func:`hiddenstruct.nn.apply_mask`, all-ones at construction).
The kernels are fed the *masked* weights, so masked weights get zero gradient, and none
loops over time steps in Python:

* PyTorch's kernels (``torch._VF.rnn_tanh`` / ``rnn_relu`` / ``gru`` / ``lstm``: cuDNN on
  CUDA), one call per layer over the batch packed once;
* on CPU, ``forward``: per-layer TorchScript kernels with a hand-written backward
  (:mod:`hiddenstruct.nn.rnn_fused`);
* on CPU, ``encode`` (the last layer's final state, what classifiers train on): the whole
  stack as one autograd node (:mod:`hiddenstruct.nn.rnn_stack`), computed by the C++
  kernels of :mod:`hiddenstruct.nn.rnn_native` (TorchScript where those are unusable).

Example::

    >>> rnn = MaskedRNN(8, [50, 50, 50], "lstm")
    >>> out, states = rnn(torch.randn(4, 11, 8), lengths=torch.tensor([11, 7, 3, 9]))
    >>> out.shape, states[-1][0].shape   # LSTM state = (h, c)
    (torch.Size([4, 11, 50]), torch.Size([4, 50]))
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import networkx as nx
import torch
from torch import nn

from hiddenstruct.nn.masking import apply_mask, original
from hiddenstruct.nn.recurrent_graph import recurrent_structure_graph
from hiddenstruct.nn.rnn_fused import fused_layer, step_masks
from hiddenstruct.nn.rnn_stack import stack_final_hidden
from hiddenstruct.nn.validate import check_sequence_batch
from hiddenstruct.nn.varlen import (
    PackedRun,
    State,
    check_lengths,
    hidden_of,
    padded_final_states,
    prefers_padded,
)

__all__ = ["FUSED_CPU_MODES", "MODES", "MaskedRNN", "RecurrentLayer", "RecurrentMode", "State"]
__all__ += ["STACK_CPU_MODES", "get_mode", "hidden_of"]


@dataclass(frozen=True)
class RecurrentMode:
    """A recurrent cell type: number of stacked gates and its fused kernel."""

    name: str
    gates: int
    kernel: Callable
    has_cell: bool = False


MODES: dict[str, RecurrentMode] = {
    "RNN_TANH": RecurrentMode("RNN_TANH", 1, torch._VF.rnn_tanh),
    "RNN_RELU": RecurrentMode("RNN_RELU", 1, torch._VF.rnn_relu),
    "GRU": RecurrentMode("GRU", 3, torch._VF.gru),
    "LSTM": RecurrentMode("LSTM", 4, torch._VF.lstm, has_cell=True),
}


FUSED_CPU_MODES = frozenset({"RNN_TANH", "RNN_RELU", "GRU"})
"""Modes whose :meth:`MaskedRNN.forward` runs the per-layer TorchScript kernels of
:mod:`hiddenstruct.nn.rnn_fused` on CPU by default (faster to train there than PyTorch's
per-step kernels); LSTM keeps oneDNN."""

STACK_CPU_MODES = frozenset(MODES)
"""Modes whose :meth:`MaskedRNN.encode` runs the whole stack as one node on CPU by default
(:mod:`hiddenstruct.nn.rnn_stack`; faster there than PyTorch's kernels, oneDNN included)."""


def get_mode(mode: str | RecurrentMode) -> RecurrentMode:
    """Look up a mode by (case-insensitive) name; unknown names raise ``ValueError``."""
    if isinstance(mode, RecurrentMode):
        return mode
    key = str(mode).upper()
    if key not in MODES:
        raise ValueError(f"unknown recurrent mode {mode!r}; valid modes: {', '.join(MODES)}")
    return MODES[key]


class RecurrentLayer(nn.Module):
    """One masked recurrent layer run by a fused kernel over a whole (packed) sequence."""

    def __init__(self, input_size: int, hidden_size: int, mode: str | RecurrentMode) -> None:
        super().__init__()
        self.spec = get_mode(mode)
        if input_size < 1 or hidden_size < 1:
            raise ValueError(
                f"layer sizes must be positive, got input {input_size}, hidden {hidden_size}"
            )
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        rows = self.spec.gates * self.hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, self.input_size))
        self.weight_hh = nn.Parameter(torch.empty(rows, self.hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(rows))
        self.bias_hh = nn.Parameter(torch.empty(rows))
        self.reset_parameters()
        apply_mask(self, "weight_ih", torch.ones(rows, self.input_size))
        apply_mask(self, "weight_hh", torch.ones(rows, self.hidden_size))

    @property
    def mode(self) -> str:
        return self.spec.name

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """PyTorch's init: every weight and bias uniform in ±1/sqrt(hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in self._raw_parameters():
                p.uniform_(-bound, bound, generator=generator)

    def _raw_parameters(self) -> list[torch.Tensor]:
        return [
            original(self, "weight_ih"),
            original(self, "weight_hh"),
            self.bias_ih,
            self.bias_hh,
        ]

    def zero_state(self, batch: int, like: torch.Tensor) -> State:
        """An all-zero state for ``batch`` sequences on ``like``'s device and dtype."""
        h = like.new_zeros(batch, self.hidden_size)
        return (h, h.clone()) if self.spec.has_cell else h

    def run(
        self,
        data: torch.Tensor,
        batch_sizes: torch.Tensor | None,
        hx: State | None = None,
        batch_first: bool = True,
    ) -> tuple[torch.Tensor, State]:
        """Run the kernel on packed ``data`` [ΣL, F] (with ``batch_sizes``) or padded input.

        Returns the output in the same layout and the final state at each sequence's last
        step (in the packed, length-sorted order when ``batch_sizes`` is given).
        """
        if batch_sizes is None:
            batch = data.shape[0] if batch_first else data.shape[1]
        else:
            batch = int(batch_sizes[0])
        if hx is None:
            hx = self.zero_state(batch, data)
        kernel_hx = tuple(s.unsqueeze(0) for s in hx) if self.spec.has_cell else hx.unsqueeze(0)
        weights = [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh]
        if batch_sizes is None:
            args = (data, kernel_hx, weights, True, 1, 0.0, self.training, False, batch_first)
        else:
            args = (data, batch_sizes, kernel_hx, weights, True, 1, 0.0, self.training, False)
        if data.is_cuda:
            # cuDNN copies non-flattened weights into its buffer on every call and warns
            # about it; masked weights are fresh tensors each forward, so the copy is inherent.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="RNN module weights are not part")
                result = self.spec.kernel(*args)
        else:
            result = self.spec.kernel(*args)
        if self.spec.has_cell:
            return result[0], (result[1].squeeze(0), result[2].squeeze(0))
        return result[0], result[1].squeeze(0)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, mode={self.mode}"


class MaskedRNN(nn.Module):
    """Stacked masked recurrent layers (sizes may differ) with fused kernels.

    ``forward(x, lengths=None, hx=None) -> (output, final_states)``: ``output`` is the last
    layer's output sequence (zero at padded steps), ``final_states`` a list with each
    layer's state at every sequence's true last step (``h`` or ``(h, c)`` for LSTM).
    Masked tensors: ``layers.<l>.weight_ih`` and ``layers.<l>.weight_hh``.
    ``fused_cpu``: on CPU, run the TorchScript kernels with a hand-written backward
    (:mod:`hiddenstruct.nn.rnn_fused` in ``forward``, :mod:`hiddenstruct.nn.rnn_stack` in
    ``encode``) — ``None`` (default) for the modes in :data:`FUSED_CPU_MODES` /
    :data:`STACK_CPU_MODES`, ``True``/``False`` to force either path; CUDA always uses cuDNN.
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes: Sequence[int] | int,
        mode: str = "RNN_TANH",
        batch_first: bool = True,
        fused_cpu: bool | None = None,
    ) -> None:
        super().__init__()
        self.fused_cpu = fused_cpu
        if isinstance(hidden_sizes, int):
            hidden_sizes = [hidden_sizes]
        hidden_sizes = [int(h) for h in hidden_sizes]
        if not hidden_sizes:
            raise ValueError("hidden_sizes must list at least one recurrent layer")
        self.spec = get_mode(mode)
        self.input_size = int(input_size)
        self.hidden_sizes = tuple(hidden_sizes)
        self.batch_first = batch_first
        sizes = [self.input_size, *hidden_sizes]
        self.layers = nn.ModuleList(
            RecurrentLayer(sizes[i], sizes[i + 1], self.spec) for i in range(len(hidden_sizes))
        )

    @property
    def mode(self) -> str:
        return self.spec.name

    @property
    def encoding_size(self) -> int:
        """Size of :meth:`encode`'s output (the last layer's hidden size)."""
        return self.hidden_sizes[-1]

    def forward(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | Sequence[int] | None = None,
        hx: Sequence[State] | None = None,
    ) -> tuple[torch.Tensor, list[State]]:
        """Run all layers; see the class docstring for the returned values."""
        self._check_input(x)
        check_sequence_batch(x, lengths, self.batch_first)
        if hx is not None and len(hx) != len(self.layers):
            raise ValueError(
                f"hx must hold one state per layer ({len(self.layers)}), got {len(hx)}"
            )
        if self._use_fused(x):
            return self._fused_forward(x, lengths, hx)
        states: list[State] = []
        if lengths is None:
            out = x
            for i, layer in enumerate(self.layers):
                out, state = layer.run(out, None, None if hx is None else hx[i], self.batch_first)
                states.append(state)
            return out, states
        run = PackedRun(x, lengths, self.batch_first)
        data = run.data
        for i, layer in enumerate(self.layers):
            data, state = layer.run(
                data, run.batch_sizes, run.to_sorted(None if hx is None else hx[i])
            )
            states.append(run.to_user(state))
        return run.pad(data), states

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"expected input of shape [batch, time, {self.input_size}] (batch_first={self.batch_first}), "
                f"got {tuple(x.shape)}"
            )

    def _cpu_kernel(self, x: torch.Tensor, default_modes: frozenset[str]) -> bool:
        """CPU input and ``fused_cpu`` (``None``: whether the mode is in ``default_modes``)."""
        if x.device.type != "cpu":
            return False
        choice = getattr(self, "fused_cpu", None)
        return self.mode in default_modes if choice is None else bool(choice)

    def _use_fused(self, x: torch.Tensor) -> bool:
        """Whether :meth:`forward` runs :mod:`~hiddenstruct.nn.rnn_fused` (:data:`FUSED_CPU_MODES`)."""
        return self._cpu_kernel(x, FUSED_CPU_MODES)

    def _use_stack(self, x: torch.Tensor) -> bool:
        """Whether :meth:`encode` runs :mod:`~hiddenstruct.nn.rnn_stack` (:data:`STACK_CPU_MODES`)."""
        return self._cpu_kernel(x, STACK_CPU_MODES)

    def _fused_forward(self, x, lengths, hx) -> tuple[torch.Tensor, list[State]]:
        out = x.transpose(0, 1) if self.batch_first else x
        steps, batch = out.shape[0], out.shape[1]
        if lengths is not None:
            lengths = check_lengths(lengths, batch, steps)
        valid, last = step_masks(lengths, steps, batch, x.device)
        states: list[State] = []
        for i, layer in enumerate(self.layers):
            state = layer.zero_state(batch, out) if hx is None else hx[i]
            out, state = fused_layer(
                self.mode,
                out,
                valid,
                last,
                state,
                layer.weight_ih,
                layer.weight_hh,
                layer.bias_ih,
                layer.bias_hh,
            )
            states.append(state)
        return (out.transpose(0, 1) if self.batch_first else out), states

    def encode(self, x: torch.Tensor, lengths=None) -> torch.Tensor:
        """The last layer's final hidden state ``h`` [B, hidden_sizes[-1]].

        Same value as ``hidden_of(self(x, lengths)[1][-1])``. On CPU (:meth:`_use_stack`)
        the whole stack is one autograd node
        (:mod:`hiddenstruct.nn.rnn_stack`); otherwise, where faster (:func:`prefers_padded`),
        the padded batch is run and each sequence's last step read.
        """
        self._check_input(x)
        check_sequence_batch(x, lengths, self.batch_first)
        if self._use_stack(x):
            return self._stack_encode(x, lengths)
        if lengths is not None and prefers_padded(self.spec, x):
            x = x if self.batch_first else x.transpose(0, 1)
            lengths = check_lengths(lengths, x.shape[0], x.shape[1])
            return padded_final_states(self._padded_outputs, x, lengths)[0]
        _, states = self(x, lengths)
        return hidden_of(states[-1])

    def _stack_encode(self, x: torch.Tensor, lengths) -> torch.Tensor:
        x = x if self.batch_first else x.transpose(0, 1)
        batch, steps = x.shape[0], x.shape[1]
        if lengths is None:
            lengths = torch.full((batch,), steps, dtype=torch.int64)
        else:
            lengths = check_lengths(lengths, batch, steps)
        weights = [(m.weight_ih, m.weight_hh, m.bias_ih, m.bias_hh) for m in self.layers]
        return stack_final_hidden(self.mode, x, lengths, weights)

    def _padded_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = x
        for layer in self.layers:
            out, _ = layer.run(out, None, None, batch_first=True)
        return [out]

    def node_groups(self) -> list[list[int]]:
        """Node labels of :meth:`structure_graph` per layer: consecutive integers."""
        groups, start = [], 0
        for layer in self.layers:
            groups.append(list(range(start, start + layer.hidden_size)))
            start += layer.hidden_size
        return groups

    def structure_graph(self, include_io: bool = False) -> nx.DiGraph:
        """The i2h structure: one node per hidden neuron, an edge per live connection.

        Nodes are consecutive integers (layer by layer) with ``layer``, ``unit`` and
        ``role="hidden"``; an edge u→v exists when any gate's ``mask·weight`` entry from u
        to v is non-zero. Recurrent (h2h) weights are not part of this acyclic structure.
        With ``include_io`` the inputs ``("in", i)`` (``layer=-1``) are added.
        """
        groups = self.node_groups()
        return recurrent_structure_graph(
            groups,
            [None, *groups[:-1]],
            [layer.weight_ih for layer in self.layers],
            self.spec.gates,
            include_io,
        )

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_sizes={list(self.hidden_sizes)}, mode={self.mode}"
