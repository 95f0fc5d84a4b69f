"""Vertex operations of the NAS search space (paper §4.4, docs/nas.md) as an explicit registry.

Every genotype vertex carries one operation name from :data:`OPS`. The unique source is
labelled ``input`` and the unique sink ``output``; every other (interior) vertex carries one
of :data:`INTERIOR_OPS`. Convolutions are the only operations with a channel count.
"""

from __future__ import annotations

from dataclasses import dataclass

from hiddenstruct.errors import GraphError, lookup


@dataclass(frozen=True)
class OpSpec:
    """What an operation does: its family, kernel size and how it merges several inputs."""

    name: str
    family: str  # "input" | "output" | "conv" | "pool" | "merge" | "identity"
    kernel_size: int | None = None
    has_channels: bool = False
    merge: str = "sum"  # how several incoming feature maps are combined: "sum" | "concat"
    feature_group: str | None = None  # path-length feature group (None for input/output)


OPS: dict[str, OpSpec] = {
    "input": OpSpec("input", "input"),
    "output": OpSpec("output", "output", merge="concat"),
    "conv3x3": OpSpec("conv3x3", "conv", 3, True, feature_group="conv"),
    "conv5x5": OpSpec("conv5x5", "conv", 5, True, feature_group="conv"),
    "conv7x7": OpSpec("conv7x7", "conv", 7, True, feature_group="conv"),
    "max_pool": OpSpec("max_pool", "pool", feature_group="max_pool"),
    "avg_pool": OpSpec("avg_pool", "pool", feature_group="avg_pool"),
    "sum": OpSpec("sum", "merge", feature_group="sum"),
    "concat": OpSpec("concat", "merge", merge="concat", feature_group="concat"),
    "skip": OpSpec("skip", "identity", feature_group="skip"),
}

#: Operations allowed on vertices other than the input and output.
INTERIOR_OPS: tuple[str, ...] = tuple(name for name in OPS if name not in ("input", "output"))

#: The six operation kinds of the paper (conv of any kernel size counts as one kind).
FEATURE_GROUPS: tuple[str, ...] = ("conv", "max_pool", "avg_pool", "sum", "concat", "skip")


def op_spec(name: str) -> OpSpec:
    """The :class:`OpSpec` called ``name``; unknown names raise :class:`GraphError` listing valid ones."""
    return lookup(OPS, name, "operation", error=GraphError)
