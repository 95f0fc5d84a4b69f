"""The recurrent modes (RNN tanh, RNN ReLU, LSTM, GRU): the one table every part reads.

Torch-free, so the CLI and the experiment settings can list the modes without importing
torch. ``gates`` is the number of gate blocks stacked in a layer's weights (PyTorch's order:
GRU r, z, n; LSTM i, f, g, o), ``activation`` the cell's output nonlinearity, ``kind`` the
short name the native engine uses (its integer code is ``KINDS.index(kind)``) and ``vf``
the name of PyTorch's fused kernel in ``torch._VF``. The table's order is the paper's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hiddenstruct.errors import lookup


@dataclass(frozen=True)
class RecurrentMode:
    """A recurrent cell type: its gates, activation and the kernels that run it."""

    name: str
    gates: int
    activation: str
    kind: str
    vf: str

    @property
    def has_cell(self) -> bool:
        """Whether the state carries a cell ``c`` next to ``h`` (LSTM)."""
        return self.kind == "lstm"

    @property
    def code(self) -> int:
        """The mode's integer code in the native engine."""
        return KINDS.index(self.kind)

    @property
    def kernel(self) -> Any:
        """PyTorch's fused kernel for the mode (``torch._VF.<vf>``)."""
        import torch

        return getattr(torch._VF, self.vf)


KINDS = ("tanh", "relu", "gru", "lstm")
"""The native engine's mode codes, in order (``hiddenstruct/nn/native.cpp``'s ``enum Kind``)."""

MODES: dict[str, RecurrentMode] = {
    m.name: m
    for m in (
        RecurrentMode("RNN_TANH", 1, "tanh", "tanh", "rnn_tanh"),
        RecurrentMode("RNN_RELU", 1, "relu", "relu", "rnn_relu"),
        RecurrentMode("LSTM", 4, "tanh", "lstm", "lstm"),
        RecurrentMode("GRU", 3, "tanh", "gru", "gru"),
    )
}

MODE_NAMES: tuple[str, ...] = tuple(MODES)
"""Every mode's name, in the paper's order."""


def get_mode(mode: str | RecurrentMode) -> RecurrentMode:
    """Look up a mode by (case-insensitive) name; unknown names raise ``ValueError``."""
    if isinstance(mode, RecurrentMode):
        return mode
    return lookup(MODES, mode, "recurrent mode", key=lambda m: str(m).upper(), error=ValueError)
