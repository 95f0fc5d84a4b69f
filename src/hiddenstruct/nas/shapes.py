"""Shape rules of the phenotype, as pure functions (no torch) shared by the compiler and features.

For a vertex with inputs from its predecessors (in ascending id order):

1. **Spatial alignment**: every incoming feature map larger than the smallest incoming one is
   reduced to the smallest height × width by adaptive average pooling.
2. **Channel merge**: ``concat`` and ``output`` vertices concatenate along channels (total =
   sum); if that total exceeds ``max_channels`` a 1×1 convolution projects it to
   ``max_channels``. All other vertices *sum* their inputs: inputs whose channel count differs
   from the largest one go through a 1×1 convolution to the largest count first.
3. **Operation**: ``input`` is the identity on the image; ``convKxK`` is a K×K convolution
   with same padding, ``channels`` output channels, batch norm and ReLU; ``max_pool`` /
   ``avg_pool`` are 2×2 windows with stride 2 (floor) while both sides are ≥ 2, and the
   identity once a side has reached 1 (so maps never shrink below 1×1); ``sum``, ``concat``
   and ``skip`` are the identity after the merge. The ``output`` vertex is followed by global
   average pooling and a linear classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

from hiddenstruct.errors import UsageError
from hiddenstruct.nas.genotype import Genotype
from hiddenstruct.nas.ops import OPS

DEFAULT_MAX_CHANNELS = 256


@dataclass(frozen=True)
class Shape:
    """A feature-map shape (channels, height, width)."""

    channels: int
    height: int
    width: int


def pooled_size(size: int) -> int:
    """Spatial size after a stride-2 pool: floor(size / 2), but a size of 1 stays 1."""
    return size // 2 if size >= 2 else size


def merged_shape(op: str, inputs: list[Shape], max_channels: int = DEFAULT_MAX_CHANNELS) -> Shape:
    """Shape after aligning and merging ``inputs`` at a vertex with operation ``op``."""
    height = min(s.height for s in inputs)
    width = min(s.width for s in inputs)
    if OPS[op].merge == "concat":
        channels = (
            min(sum(s.channels for s in inputs), max_channels)
            if len(inputs) > 1
            else inputs[0].channels
        )
    else:
        channels = max(s.channels for s in inputs)
    return Shape(channels, height, width)


def apply_op(op: str, merged: Shape, channels: int | None) -> Shape:
    """Shape after the vertex's own operation, given its merged input shape."""
    family = OPS[op].family
    if family == "conv":
        return Shape(int(channels), merged.height, merged.width)
    if family == "pool" and merged.height >= 2 and merged.width >= 2:
        return Shape(merged.channels, pooled_size(merged.height), pooled_size(merged.width))
    return merged


def infer_shapes(
    genotype: Genotype, input_shape: tuple[int, int, int], max_channels: int = DEFAULT_MAX_CHANNELS
) -> list[Shape]:
    """Output shape of every vertex for an input of ``(channels, height, width)``."""
    if len(input_shape) != 3 or any(int(x) <= 0 for x in input_shape):
        raise UsageError(
            f"input_shape must be (channels, height, width) with positive sizes, got {input_shape!r}"
        )
    if max_channels <= 0:
        raise UsageError(f"max_channels must be positive, got {max_channels}")
    shapes: list[Shape | None] = [None] * len(genotype.vertices)
    for v in genotype.topological_order:
        vertex = genotype.vertices[v]
        if vertex.op == "input":
            shapes[v] = Shape(*(int(x) for x in input_shape))
            continue
        merged = merged_shape(
            vertex.op, [shapes[u] for u in genotype.predecessors[v]], max_channels
        )
        shapes[v] = apply_op(vertex.op, merged, vertex.channels)
    return shapes  # type: ignore[return-value]
