"""Phenotype: compile a :class:`Genotype` into a PyTorch CNN (shape rules in :mod:`.shapes`).

Example::

    net = compile(Genotype.chain(["conv3x3", "max_pool"], 8), (1, 8, 8), num_classes=10)
    net(torch.zeros(2, 1, 8, 8)).shape   # torch.Size([2, 10])
"""

from __future__ import annotations

import networkx as nx
import torch
import torch.nn.functional as F
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nas.genotype import Genotype
from hiddenstruct.nas.ops import OPS
from hiddenstruct.nas.shapes import DEFAULT_MAX_CHANNELS, Shape, infer_shapes, merged_shape


def _op_module(op: str, in_channels: int, channels: int | None, merged: Shape) -> nn.Module:
    spec = OPS[op]
    if spec.family == "conv":
        k = int(spec.kernel_size)
        return nn.Sequential(
            nn.Conv2d(in_channels, int(channels), k, padding=k // 2, bias=False),
            nn.BatchNorm2d(int(channels)),
            nn.ReLU(inplace=False),
        )
    if spec.family == "pool" and merged.height >= 2 and merged.width >= 2:
        return nn.MaxPool2d(2, 2) if op == "max_pool" else nn.AvgPool2d(2, 2)
    return nn.Identity()


class GenotypeNet(nn.Module):
    """The CNN of a genotype: vertices evaluated in topological order, then GAP + linear."""

    def __init__(
        self,
        genotype: Genotype,
        input_shape: tuple[int, int, int],
        num_classes: int,
        max_channels: int = DEFAULT_MAX_CHANNELS,
    ) -> None:
        super().__init__()
        if num_classes <= 0:
            raise UsageError(f"num_classes must be positive, got {num_classes}")
        self.genotype = genotype
        self.input_shape = tuple(int(x) for x in input_shape)
        self.order = list(genotype.topological_order)
        shapes = infer_shapes(genotype, self.input_shape, max_channels)
        self.shapes = shapes
        self.ops = nn.ModuleDict()
        self.projections = nn.ModuleDict()
        for v in self.order:
            vertex = genotype.vertices[v]
            if vertex.op == "input":
                continue
            preds = genotype.predecessors[v]
            incoming = [shapes[u] for u in preds]
            merged = merged_shape(vertex.op, incoming, max_channels)
            if OPS[vertex.op].merge == "concat":
                total = sum(s.channels for s in incoming)
                if len(incoming) > 1 and total != merged.channels:
                    self.projections[f"{v}"] = nn.Conv2d(total, merged.channels, 1, bias=False)
            else:
                for u, shape in zip(preds, incoming, strict=True):
                    if shape.channels != merged.channels:
                        self.projections[f"{u}_{v}"] = nn.Conv2d(
                            shape.channels, merged.channels, 1, bias=False
                        )
            self.ops[str(v)] = _op_module(vertex.op, merged.channels, vertex.channels, merged)
        self.classifier = nn.Linear(shapes[genotype.output].channels, num_classes)

    def _merge(self, v: int, inputs: list[tuple[int, torch.Tensor]]) -> torch.Tensor:
        height = min(x.shape[-2] for _, x in inputs)
        width = min(x.shape[-1] for _, x in inputs)
        aligned = [
            (u, x if x.shape[-2:] == (height, width) else F.adaptive_avg_pool2d(x, (height, width)))
            for u, x in inputs
        ]
        if len(aligned) == 1:
            return aligned[0][1]
        if OPS[self.genotype.vertices[v].op].merge == "concat":
            out = torch.cat([x for _, x in aligned], dim=1)
            key = f"{v}"
            return self.projections[key](out) if key in self.projections else out
        total = None
        for u, x in aligned:
            key = f"{u}_{v}"
            x = self.projections[key](x) if key in self.projections else x
            total = x if total is None else total + x
        return total

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs: dict[int, torch.Tensor] = {}
        g = self.genotype
        for v in self.order:
            if v == g.input:
                outputs[v] = x
                continue
            merged = self._merge(v, [(u, outputs[u]) for u in g.predecessors[v]])
            outputs[v] = self.ops[str(v)](merged)
        features = outputs[g.output].mean(dim=(-2, -1))
        return self.classifier(features)

    def structure_graph(self, include_io: bool = True) -> nx.DiGraph:
        """The genotype's DAG (vertices labelled with ``op``/``channels``)."""
        return self.genotype.to_networkx()


def compile(  # noqa: A001 - the public name (docs/nas.md, Phenotype)
    genotype: Genotype,
    input_shape: tuple[int, int, int],
    num_classes: int,
    max_channels: int = DEFAULT_MAX_CHANNELS,
) -> GenotypeNet:
    """Build the PyTorch module of ``genotype`` for images of ``(C, H, W)``."""
    return GenotypeNet(genotype, input_shape, num_classes, max_channels)
