"""The unit groups of a model: :class:`Member` (one unit of one module), :class:`Group` (the
units removed together) and :class:`DependencyGraph` (the prunable groups and, for each, the
tensor entries its units own: :mod:`hiddenstruct.nn.units`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from hiddenstruct.nn.rnn import MaskedRNN
from hiddenstruct.nn.units import Entry, entries

PRODUCER_AXES = ("out", "hidden", "proj", "head")
KINDS = ("neuron", "channel", "hidden", "head")


@dataclass(frozen=True)
class Member:
    """Unit ``index`` on ``axis`` of module ``module`` (qualified name).

    Axes: ``"out"`` (a Linear's output neuron, a Conv's output channel), ``"in"`` (an input
    column read by the module), ``"channel"`` (a per-channel module on the way: BatchNorm,
    depthwise conv), ``"hidden"`` / ``"hidden<l>"`` (a recurrent hidden unit: all layers of
    a torch RNN, layer ``l`` of a MaskedRNN), ``"proj"`` (a projected unit of an LSTM with
    ``proj_size``) and ``"head"`` (an attention head).
    """

    module: str
    axis: str
    index: int

    @property
    def produces(self) -> bool:
        return self.axis.startswith(PRODUCER_AXES)


@dataclass(frozen=True)
class Group:
    """Units removed together: ``kind`` of unit, ``layer`` (the producing modules, the key
    of per-layer selection) and every member."""

    kind: str
    layer: str
    members: tuple[Member, ...]


@dataclass
class DependencyGraph:
    """The prunable groups of ``model`` (pinned ones excluded) and why others are pinned."""

    model: nn.Module
    groups: list[Group]
    pinned: int = 0
    notes: list[str] = field(default_factory=list)

    def entries(self, group: Group) -> list[tuple[str, Entry]]:
        """``(module name, entry)`` for every tensor entry of ``group``."""
        return [(name, entry) for name, _holder, _tensor, entry in self.located(group)]

    def located(self, group: Group) -> list[tuple[str, nn.Module, str, Entry]]:
        """``(module name, holder module, tensor name, entry)`` for every tensor entry of
        ``group``: the holder owns the tensor (e.g. ``attn.out_proj`` for
        ``out_proj.weight``). Cached per group: scoring and compaction ask many times."""
        if "_located" not in self.__dict__:
            self._located: dict[int, tuple] = {}
            self._modules = dict(self.model.named_modules())
        cache, modules = self._located, self._modules
        if id(group) not in cache:
            out = []
            for m in group.members:
                for entry in entries(modules[m.module], m.axis, m.index):
                    owner, _, tensor = entry.path.rpartition(".")
                    holder = (
                        modules[f"{m.module}.{owner}" if m.module else owner]
                        if owner
                        else (modules[m.module])
                    )
                    out.append((m.module, holder, tensor, entry))
            cache[id(group)] = (group, out)  # the group is kept alive: its id stays unique
        return cache[id(group)][1]


def unit_kind(module: nn.Module) -> str:
    """The kind (:data:`KINDS`) of the units ``module`` produces."""
    if isinstance(module, (nn.RNNBase, MaskedRNN)):
        return "hidden"
    if isinstance(module, nn.MultiheadAttention):
        return "head"
    if isinstance(module, nn.modules.conv._ConvNd):
        return "channel"
    return "neuron"
