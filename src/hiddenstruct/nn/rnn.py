"""Masked recurrent networks (RNN tanh / RNN ReLU / GRU / LSTM) on one native engine.

Every recurrent layer owns an input-to-hidden weight ``weight_ih`` and a hidden-to-hidden
weight ``weight_hh`` (all gates stacked in PyTorch's order: GRU r,z,n; LSTM i,f,g,o), each
carrying a binary mask (:func:`hiddenstruct.nn.apply_mask`, all-ones at construction).
The kernels are fed the *masked* weights, so masked weights get zero gradient, and none
loops over time steps in Python. On CPU the whole stack is one autograd node on the C++
engine of :mod:`hiddenstruct.nn.rnn_native` (``forward``, ``encode``, variable lengths,
initial states); elsewhere, and where that engine is unusable, PyTorch's own kernels run
(``torch._VF``; cuDNN on CUDA) — see :func:`~hiddenstruct.nn.rnn_native.run_stack`.

Example::

    >>> rnn = MaskedRNN(8, [50, 50, 50], "lstm")
    >>> out, states = rnn(torch.randn(4, 11, 8), lengths=torch.tensor([11, 7, 3, 9]))
    >>> out.shape, states[-1][0].shape   # LSTM state = (h, c)
    (torch.Size([4, 11, 50]), torch.Size([4, 50]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import networkx as nx
import torch
from torch import nn

from hiddenstruct.nn.masking import apply_mask, get_mask, original, plain_mask
from hiddenstruct.nn.recurrent_graph import recurrent_structure_graph
from hiddenstruct.nn.rnn_native import run_stack
from hiddenstruct.nn.validate import check_sequence_batch
from hiddenstruct.nn.varlen import State, Wiring, check_lengths, hidden_of, torch_stack
from hiddenstruct.recurrent_modes import MODES, RecurrentMode, get_mode

__all__ = ["MODES", "MaskedRNN", "RecurrentLayer", "RecurrentMode", "State", "get_mode"]


def stack_weights(layers) -> list[torch.Tensor]:
    """The masked weights of recurrent ``layers``, four per layer, as the engines take them."""
    return [w for layer in layers for w in layer.weights()]


def layer_masks(layers) -> list[tuple[torch.Tensor | None, torch.Tensor | None]]:
    """Per recurrent layer the masks of ``weight_ih`` and ``weight_hh`` (``None``: unmasked),
    for the engine's sparse products."""
    return [(get_mask(layer, "weight_ih"), get_mask(layer, "weight_hh")) for layer in layers]


def engine_operands(layers):
    """``(weights, masks, premask)`` of recurrent ``layers`` for
    :func:`~hiddenstruct.nn.rnn_native.run_stack`: four weights per layer, each masked weight
    that :func:`~hiddenstruct.nn.masking.plain_mask` allows as its unmasked original with its
    mask in ``premask`` (the engine multiplies them: no autograd node per weight), the others
    as masked tensors (``premask`` ``None``); ``masks`` as :func:`layer_masks`."""
    weights, masks, premask = [], [], []
    for layer in layers:
        pair = []
        for name in ("weight_ih", "weight_hh"):
            plain = plain_mask(layer, name)
            if plain is None or plain[1].dtype != plain[0].dtype:
                weights.append(getattr(layer, name))
                premask.append(None)
                pair.append(get_mask(layer, name))
            else:
                weights.append(plain[0])
                premask.append(plain[1])
                pair.append(plain[1])
        masks.append(tuple(pair))
        weights += [layer.bias_ih, layer.bias_hh]
        premask += [None, None]
    return weights, masks, premask


class RecurrentLayer(nn.Module):
    """One masked recurrent layer's parameters (its stack runs it; see :class:`MaskedRNN`)."""

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
            for p in (original(self, "weight_ih"), original(self, "weight_hh")):
                p.uniform_(-bound, bound, generator=generator)
            for p in (self.bias_ih, self.bias_hh):
                p.uniform_(-bound, bound, generator=generator)

    def zero_state(self, batch: int, like: torch.Tensor) -> State:
        """An all-zero state for ``batch`` sequences on ``like``'s device and dtype."""
        h = like.new_zeros(batch, self.hidden_size)
        return (h, h.clone()) if self.spec.has_cell else h

    def weights(self) -> list[torch.Tensor]:
        """The masked ``weight_ih``, ``weight_hh`` and the biases, as the kernels take them."""
        return [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh]

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, mode={self.mode}"


class RecurrentStack(nn.Module):
    """What :class:`MaskedRNN` and :class:`~hiddenstruct.nn.graphrnn.GraphRNN` share: a
    ``spec`` (the recurrent mode) and ``layers``, a list of :class:`RecurrentLayer`."""

    spec: RecurrentMode
    layers: nn.ModuleList

    @property
    def mode(self) -> str:
        return self.spec.name

    @property
    def encoding_size(self) -> int:
        """Size of ``encode``'s output: the last layer's hidden size."""
        return self.layers[-1].hidden_size


class MaskedRNN(RecurrentStack):
    """Stacked masked recurrent layers (sizes may differ) on one engine.

    ``forward(x, lengths=None, hx=None) -> (output, final_states)``: ``output`` is the last
    layer's output sequence (zero at padded steps), ``final_states`` a list with each
    layer's state at every sequence's true last step (``h`` or ``(h, c)`` for LSTM).
    Masked tensors: ``layers.<l>.weight_ih`` and ``layers.<l>.weight_hh``.
    ``fused_cpu=False`` runs PyTorch's kernels on CPU too (``None``/``True``: the native
    engine where it is usable); CUDA always uses cuDNN.
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

    def forward(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | Sequence[int] | None = None,
        hx: Sequence[State] | None = None,
    ) -> tuple[torch.Tensor, list[State]]:
        """Run all layers; see the class docstring for the returned values."""
        x, lengths = self._batch_first(x, lengths)
        if hx is not None and len(hx) != len(self.layers):
            raise ValueError(
                f"hx must hold one state per layer ({len(self.layers)}), got {len(hx)}"
            )
        h0 = c0 = None
        if hx is not None:
            h0 = [hidden_of(s) for s in hx]
            c0 = [s[1] for s in hx] if self.spec.has_cell else None
        wiring = Wiring.chain(self.spec, self.hidden_sizes, all_layers=True)
        result = self._run(wiring, x, lengths, h0, c0, outputs=True)
        states = list(result.final.split(self.hidden_sizes, dim=1))
        if self.spec.has_cell:
            states = list(zip(states, result.final_c.split(self.hidden_sizes, dim=1), strict=True))
        out = result.outputs
        return (out if self.batch_first else out.transpose(0, 1)), states

    def encode(self, x: torch.Tensor, lengths=None) -> torch.Tensor:
        """The last layer's final hidden state ``h`` [B, hidden_sizes[-1]]; same value as
        ``hidden_of(self(x, lengths)[1][-1])``, without the outputs."""
        x, lengths = self._batch_first(x, lengths)
        return self._run(Wiring.chain(self.spec, self.hidden_sizes), x, lengths).final

    def _batch_first(self, x: torch.Tensor, lengths):
        """``x`` checked and batch-first, and its checked lengths (or ``None``)."""
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"expected input of shape [batch, time, {self.input_size}] "
                f"(batch_first={self.batch_first}), got {tuple(x.shape)}"
            )
        check_sequence_batch(x, lengths, self.batch_first)
        x = x if self.batch_first else x.transpose(0, 1)
        if lengths is not None:
            lengths = check_lengths(lengths, x.shape[0], x.shape[1])
        return x, lengths

    def _run(self, wiring, x, lengths, h0=None, c0=None, outputs=False):
        if getattr(self, "fused_cpu", None) is False:
            return torch_stack(wiring, x, lengths, stack_weights(self.layers), h0, c0, outputs)
        weights, masks, premask = engine_operands(self.layers)
        return run_stack(wiring, x, lengths, weights, h0, c0, outputs, masks, premask)

    def node_groups(self) -> list[list[int]]:
        """Node labels of :meth:`structure_graph` per layer: consecutive integers."""
        groups, start = [], 0
        for layer in self.layers:
            groups.append(list(range(start, start + layer.hidden_size)))
            start += layer.hidden_size
        return groups

    def structure_graph(self, include_io: bool = True) -> nx.DiGraph:
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
