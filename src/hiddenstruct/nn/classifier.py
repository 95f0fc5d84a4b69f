"""Sequence classification head: character codes → embedding → recurrent module → linear.

The paper's base recurrent model (§4.2): ASCII codes of a Reber string go through an
embedding, three recurrent layers of 50 units and a linear layer on the final state.
Any recurrent module with ``input_size``, ``encoding_size`` and ``encode(x, lengths)`` works
(:class:`~hiddenstruct.nn.rnn.MaskedRNN`, :class:`~hiddenstruct.nn.graphrnn.GraphRNN`).

Example::

    >>> model = SequenceClassifier(MaskedRNN(16, [50, 50, 50], "gru"))
    >>> codes = torch.tensor([[66, 84, 88, 83, 69], [66, 80, 86, 69, 0]])  # 0 = padding
    >>> model(codes, torch.tensor([5, 4])).shape
    torch.Size([2, 2])
"""

from __future__ import annotations

import networkx as nx
import torch
from torch import nn

from hiddenstruct.nn.recurrent_graph import add_readout


class SequenceClassifier(nn.Module):
    """``Embedding(vocab_size, rnn.input_size, padding_idx=0)`` → ``rnn`` → ``Linear``.

    ``forward(codes [B, T] long, lengths [B] or None) -> logits [B, num_classes]``; the
    readout sees the recurrent module's final hidden state at each sequence's true end.
    """

    def __init__(
        self,
        rnn: nn.Module,
        vocab_size: int = 128,
        embedding_dim: int | None = None,
        num_classes: int = 2,
    ) -> None:
        super().__init__()
        for attribute in ("input_size", "encoding_size", "encode", "node_groups"):
            if not hasattr(rnn, attribute):
                raise TypeError(
                    f"{type(rnn).__name__} is not a recurrent encoder (missing {attribute!r}); "
                    "use MaskedRNN or GraphRNN"
                )
        if getattr(rnn, "readout", None) is not None:
            raise ValueError(
                "the recurrent module already has a readout; build it without output_size"
            )
        if embedding_dim is not None and int(embedding_dim) != rnn.input_size:
            raise ValueError(
                f"embedding_dim={embedding_dim} differs from the recurrent module's "
                f"input_size={rnn.input_size}; they must match"
            )
        if vocab_size < 2 or num_classes < 1:
            raise ValueError(
                f"need vocab_size ≥ 2 and num_classes ≥ 1, got {vocab_size}, {num_classes}"
            )
        self.vocab_size = int(vocab_size)
        self.num_classes = int(num_classes)
        self.embedding = nn.Embedding(self.vocab_size, rnn.input_size, padding_idx=0)
        self.rnn = rnn
        self.readout = nn.Linear(rnn.encoding_size, self.num_classes)

    def forward(self, codes: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [B, num_classes] for padded character codes [B, T] (pad code 0)."""
        if codes.dim() != 2 or codes.is_floating_point():
            raise ValueError(
                f"codes must be an integer tensor [batch, time], got {codes.dtype} {tuple(codes.shape)}"
            )
        return self.readout(self.rnn.encode(self.embedding(codes), lengths))

    def structure_graph(self, include_io: bool = True) -> nx.DiGraph:
        """The recurrent module's i2h structure; ``include_io`` adds inputs and the readout."""
        G = self.rnn.structure_graph(include_io=include_io)
        if include_io:
            add_readout(G, self.rnn.node_groups()[-1], self.readout.weight)
        return G
