"""Many graph-structured recurrent classifiers packed into one disjoint model.

Training hundreds of small :class:`~hiddenstruct.nn.graphrnn.GraphRNN` classifiers one
after the other is dominated by per-step overhead (kernel launches, autograd nodes per
time step and layer), not by arithmetic. :class:`PackedGraphClassifier` packs K of them
(same recurrent mode) into one model whose every tensor is the block-structured union of
the K individual tensors:

* the embedding is the concatenation of the K embeddings along the feature axis;
* union layer ``l`` holds, block after block, layer ``l`` of every graph that has one;
  its input weight ``W_l`` reads the concatenated earlier union layers (layer 0: the
  concatenated embeddings) and its recurrence ``U_l`` is block-diagonal — masks put
  zeros on every entry that would connect two different graphs;
* the readout reads the concatenated final states of all union layers through a mask
  that lets graph ``k``'s two logits see only graph ``k``'s own last layer.

No weight crosses graphs, so graph ``k``'s logits and gradients are exactly those of the
``k``-th model alone (up to float summation order). ``owner_maps`` tells, for every
parameter entry, which graph owns it (``K`` = nobody), which per-graph gradient clipping
(:mod:`hiddenstruct.training.packed`) needs. Parameters are copied from K individually
built models, so initialisation equals the separate case, and :meth:`extract` copies a
graph's trained parameters back into an individual model.

Example::

    >>> models = [graph_classifier(G, "GRU", seed=i) for i, G in enumerate(graphs)]
    >>> packed = PackedGraphClassifier.from_models(models)
    >>> logits = packed(codes, lengths)           # [B, K, 2]
    >>> packed.extract(0, models[0])              # graph 0's parameters back
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import torch
from torch import nn

from hiddenstruct.graphs.dag import layers
from hiddenstruct.nn.classifier import SequenceClassifier
from hiddenstruct.nn.graphrnn import GraphRNN
from hiddenstruct.nn.masking import apply_mask, get_mask, original
from hiddenstruct.nn.rnn import RecurrentLayer, engine_operands, get_mode
from hiddenstruct.nn.rnn_native import run_stack
from hiddenstruct.nn.varlen import Wiring, check_lengths

VOCAB_SIZE = 128
"""ASCII codes; code 0 is padding."""


@dataclass
class ClassifierParts:
    """The tensors of one graph classifier in a layout-neutral form (used for packing).

    ``layers[l]`` holds ``weight_ih`` [g·n_l, F_l], ``weight_hh`` [g·n_l, n_l],
    ``bias_ih``, ``bias_hh`` [g·n_l] and the masks ``mask_ih``, ``mask_hh``; the columns of
    ``weight_ih`` for ``l > 0`` are the earlier layers' units, layer by layer.
    """

    mode: str
    embedding: torch.Tensor
    layers: list[dict[str, torch.Tensor]]
    readout_weight: torch.Tensor
    readout_bias: torch.Tensor

    @property
    def widths(self) -> list[int]:
        return [int(layer["weight_hh"].shape[1]) for layer in self.layers]


def graph_classifier(
    graph: nx.Graph, mode: str, seed: int, num_classes: int = 2, vocab_size: int = VOCAB_SIZE
) -> nn.Module:
    """The priors model: Embedding(ASCII, dim = first layer's width) → GraphRNN → Linear.

    Initialised from ``seed`` without touching the global RNG.
    """
    width0 = len(layers(graph)[0])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        rnn = GraphRNN(graph, input_size=width0, mode=mode)
        return SequenceClassifier(
            rnn, vocab_size=vocab_size, embedding_dim=width0, num_classes=num_classes
        )


def parts_of(model: nn.Module) -> ClassifierParts:
    """Read a ``SequenceClassifier(GraphRNN)``'s tensors (detached copies)."""
    layers = []
    for layer in _recurrent_layers(model):
        layers.append(
            {
                "weight_ih": original(layer, "weight_ih").detach().clone(),
                "weight_hh": original(layer, "weight_hh").detach().clone(),
                "bias_ih": layer.bias_ih.detach().clone(),
                "bias_hh": layer.bias_hh.detach().clone(),
                "mask_ih": _mask_or_ones(layer, "weight_ih"),
                "mask_hh": _mask_or_ones(layer, "weight_hh"),
            }
        )
    embedding, readout = model.embedding, model.readout
    return ClassifierParts(
        mode=get_mode(_recurrent_layers(model)[0].mode).name,
        embedding=embedding.weight.detach().clone(),
        layers=layers,
        readout_weight=original(readout, "weight").detach().clone(),
        readout_bias=readout.bias.detach().clone(),
    )


def load_parts(model: nn.Module, parts: ClassifierParts) -> nn.Module:
    """Copy ``parts`` into an individual classifier built for the same graph and mode."""
    with torch.no_grad():
        model.embedding.weight.copy_(parts.embedding)
        for layer, tensors in zip(_recurrent_layers(model), parts.layers, strict=True):
            original(layer, "weight_ih").copy_(tensors["weight_ih"])
            original(layer, "weight_hh").copy_(tensors["weight_hh"])
            layer.bias_ih.copy_(tensors["bias_ih"])
            layer.bias_hh.copy_(tensors["bias_hh"])
        readout = model.readout
        original(readout, "weight").copy_(parts.readout_weight)
        readout.bias.copy_(parts.readout_bias)
    return model


def _recurrent_layers(model: nn.Module) -> list[RecurrentLayer]:
    rnn = getattr(model, "rnn", model)
    return list(rnn.layers)


def _mask_or_ones(module: nn.Module, name: str) -> torch.Tensor:
    mask = get_mask(module, name)
    tensor = original(module, name)
    return torch.ones_like(tensor) if mask is None else mask.detach().clone()


@dataclass(frozen=True)
class _Slot:
    """Where one individual tensor lives inside a packed tensor (rows × cols blocks)."""

    key: str
    rows: torch.Tensor
    cols: torch.Tensor | None


class PackedGraphClassifier(nn.Module):
    """K graph classifiers of one mode as a single disjoint model; see the module docstring.

    ``forward(codes, lengths) -> logits [B, K, num_classes]``.
    """

    def __init__(self, parts: Sequence[ClassifierParts]) -> None:
        super().__init__()
        if not parts:
            raise ValueError("need at least one model to pack")
        modes = {p.mode for p in parts}
        if len(modes) != 1:
            raise ValueError(
                f"all packed models must share one recurrent mode, got {sorted(modes)}"
            )
        self.spec = get_mode(parts[0].mode)
        self.num_graphs = len(parts)
        self.num_classes = int(parts[0].readout_weight.shape[0])
        self.widths = [p.widths for p in parts]
        depth = max(len(w) for w in self.widths)
        self.union_widths = [sum(w[li] for w in self.widths if li < len(w)) for li in range(depth)]
        embed_dims = [int(p.embedding.shape[1]) for p in parts]
        vocab = int(parts[0].embedding.shape[0])
        inputs = [sum(embed_dims)] + [sum(self.union_widths[:li]) for li in range(1, depth)]
        with torch.random.fork_rng(devices=[]):  # every value is overwritten by _load
            self.embedding = nn.Embedding(vocab, sum(embed_dims), padding_idx=0)
            self.layers = nn.ModuleList(
                RecurrentLayer(inputs[li], self.union_widths[li], self.spec) for li in range(depth)
            )
            self.readout = nn.Linear(sum(self.union_widths), self.num_graphs * self.num_classes)
        self._slots = [self._slots_of(k, embed_dims) for k in range(self.num_graphs)]
        self._load(parts)

    @classmethod
    def from_models(cls, models: Sequence[nn.Module]) -> PackedGraphClassifier:
        """Pack individually built classifiers (their current parameters are copied)."""
        return cls([parts_of(m) for m in models])

    # ----------------------------------------------------------------- layout
    def _slots_of(self, k: int, embed_dims: list[int]) -> list[_Slot]:
        gates = self.spec.gates
        widths = self.widths[k]
        offsets = [
            sum(w[li] for w in self.widths[:k] if li < len(w))
            for li in range(len(self.union_widths))
        ]
        starts = [sum(self.union_widths[:li]) for li in range(len(self.union_widths))]

        def units(li: int) -> torch.Tensor:
            return starts[li] + offsets[li] + torch.arange(widths[li])

        slots = []
        e0 = sum(embed_dims[:k])
        embed_cols = torch.arange(e0, e0 + embed_dims[k])
        slots.append(
            _Slot("embedding.weight", torch.arange(self.embedding.num_embeddings), embed_cols)
        )
        for li, n in enumerate(widths):
            width = self.union_widths[li]
            rows = (
                torch.arange(gates)[:, None] * width + offsets[li] + torch.arange(n)[None, :]
            ).reshape(-1)
            if li == 0:
                cols = embed_cols
            else:
                cols = torch.cat([units(s) for s in range(li)])
            slots.append(_Slot(f"layers.{li}.weight_ih", rows, cols))
            slots.append(_Slot(f"layers.{li}.weight_hh", rows, offsets[li] + torch.arange(n)))
            slots.append(_Slot(f"layers.{li}.bias_ih", rows, None))
            slots.append(_Slot(f"layers.{li}.bias_hh", rows, None))
        out_rows = k * self.num_classes + torch.arange(self.num_classes)
        slots.append(_Slot("readout.weight", out_rows, units(len(widths) - 1)))
        slots.append(_Slot("readout.bias", out_rows, None))
        return slots

    def _tensor(self, key: str) -> torch.Tensor:
        module_name, _, name = key.rpartition(".")
        return original(self.get_submodule(module_name), name)

    def _load(self, parts: Sequence[ClassifierParts]) -> None:
        masks = {
            f"layers.{li}.{n}": torch.zeros_like(original(layer, n))
            for li, layer in enumerate(self.layers)
            for n in ("weight_ih", "weight_hh")
        }
        masks["readout.weight"] = torch.zeros_like(self.readout.weight)
        owners = {
            name: torch.full(p.shape, self.num_graphs, dtype=torch.long)
            for name, p in self._named_raw()
        }
        with torch.no_grad():
            for p in self.parameters():
                p.zero_()
            for k, part in enumerate(parts):
                values = _flatten_parts(part)
                for slot in self._slots[k]:
                    index = (
                        (slot.rows,)
                        if slot.cols is None
                        else (slot.rows[:, None], slot.cols[None, :])
                    )
                    self._tensor(slot.key)[index] = values[slot.key]
                    owners[slot.key][index] = k
                    if slot.key in masks:
                        masks[slot.key][index] = values.get(_mask_key(slot.key), 1.0)
        for key, mask in masks.items():
            module_name, _, name = key.rpartition(".")
            apply_mask(self.get_submodule(module_name), name, mask)
        self._owner_names = {}
        for i, (name, _) in enumerate(self._named_raw()):
            buffer = f"_owner_{i}"
            self.register_buffer(buffer, owners[name], persistent=False)
            self._owner_names[name] = buffer

    def _named_raw(self) -> list[tuple[str, torch.Tensor]]:
        keys = ["embedding.weight"]
        for li in range(len(self.layers)):
            keys += [f"layers.{li}.{n}" for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        keys += ["readout.weight", "readout.bias"]
        return [(key, self._tensor(key)) for key in keys]

    def owner_maps(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(parameter, owner)`` pairs: ``owner`` (int64, same shape) holds the graph index
        of every entry, or ``num_graphs`` for entries that belong to no graph."""
        return [(p, getattr(self, self._owner_names[name])) for name, p in self._named_raw()]

    def owner_masks(self) -> list[torch.Tensor | None]:
        """The mask of each parameter of :meth:`owner_maps` (``None``: unmasked): entries a
        mask zeroes never get a gradient."""
        masks = []
        for key, _ in self._named_raw():
            module_name, _, name = key.rpartition(".")
            masks.append(get_mask(self.get_submodule(module_name), name))
        return masks

    # ---------------------------------------------------------------- compute
    def forward(self, codes: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [B, K, num_classes] of every packed graph for a padded batch of codes."""
        x = self.embedding(codes)
        if lengths is not None:
            lengths = check_lengths(lengths, codes.shape[0], codes.shape[1])
        wiring = Wiring.dag(self.spec, self.union_widths, all_layers=True)
        weights, masks, premask = engine_operands(self.layers)
        finals = run_stack(wiring, x, lengths, weights, masks=masks, premask=premask).final
        return self.readout(finals).view(codes.shape[0], self.num_graphs, self.num_classes)

    # ---------------------------------------------------------------- unpack
    def parts(self, k: int) -> ClassifierParts:
        """Graph ``k``'s current tensors (detached copies on the CPU)."""
        if not 0 <= k < self.num_graphs:
            raise IndexError(f"graph index {k} out of range for {self.num_graphs} packed graphs")
        values: dict[str, torch.Tensor] = {}
        for slot in self._slots[k]:
            tensor = self._tensor(slot.key).detach().cpu()
            values[slot.key] = (
                tensor[slot.rows]
                if slot.cols is None
                else tensor[slot.rows[:, None], slot.cols[None, :]]
            )
            module_name, _, name = slot.key.rpartition(".")
            mask = get_mask(self.get_submodule(module_name), name)
            if mask is not None and name.startswith("weight_"):
                m = mask.detach().cpu()[slot.rows[:, None], slot.cols[None, :]]
                values[f"{module_name}.mask_{name[len('weight_') :]}"] = m
        depth = len(self.widths[k])
        layers = [
            {
                n: values[f"layers.{li}.{n}"]
                for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "mask_ih", "mask_hh")
            }
            for li in range(depth)
        ]
        return ClassifierParts(
            mode=self.spec.name,
            embedding=values["embedding.weight"],
            layers=layers,
            readout_weight=values["readout.weight"],
            readout_bias=values["readout.bias"],
        )

    def extract(self, k: int, model: nn.Module) -> nn.Module:
        """Copy graph ``k``'s parameters into ``model`` (an individual classifier of that graph)."""
        return load_parts(model, self.parts(k))

    def extra_repr(self) -> str:
        return f"graphs={self.num_graphs}, mode={self.spec.name}, union_widths={self.union_widths}"


def _mask_key(key: str) -> str:
    """``layers.3.weight_ih`` → ``layers.3.mask_ih`` (the readout has no individual mask)."""
    prefix, _, name = key.rpartition(".")
    return f"{prefix}.mask_{name.removeprefix('weight_')}"


def _flatten_parts(part: ClassifierParts) -> dict[str, torch.Tensor]:
    values = {
        "embedding.weight": part.embedding,
        "readout.weight": part.readout_weight,
        "readout.bias": part.readout_bias,
    }
    for li, layer in enumerate(part.layers):
        for name, tensor in layer.items():
            values[f"layers.{li}.{name}"] = tensor
    return values
