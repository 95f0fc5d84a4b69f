"""Small ``torch.fx`` helpers: trace any ``nn.Module`` with torch's layers as leaves.

``trace_model(model, fold=...)`` symbolically traces ``model`` (``torch.fx``), keeping every
layer that ``torch.nn`` defines (``Linear``, ``Conv2d``, ``LSTM``, ``BatchNorm2d``, ``ReLU``…,
also when masked through a parametrization) as one ``call_module`` node, and the modules named
in ``fold`` (types or qualified names) too. Where tracing fails — typically data-dependent
control flow such as ``if x.sum() > 0`` — :class:`TracingError` names the innermost module
whose ``forward`` failed and the way out: fold that module (one opaque node).
``node_kind(node, modules)`` names what a node computes (``"Conv2d"``, ``"add"``, ``"cat"``);
``propagate_shapes(gm, inputs)`` records every node's output shape from one example pass run
inside ``evaluating(model)`` (eval mode, no gradients, modes restored: BatchNorm statistics
stay untouched); ``output_tensors(output)`` lists the tensors of a model's output, however
nested in tuples, lists and dicts.

Example::

    >>> gm = trace_model(nn.Sequential(nn.Linear(4, 3), nn.ReLU()))
    >>> [node_kind(n, dict(gm.named_modules())) for n in gm.graph.nodes]
    ['input', 'Linear', 'ReLU', 'output']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from hiddenstruct.errors import HiddenstructError, UsageError

CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


class TracingError(HiddenstructError):
    """``torch.fx`` could not trace a module (data-dependent control flow, unsupported op)."""


def _torch_class(module: nn.Module) -> type:
    """The first class in ``module``'s MRO not made by parametrize or our masking."""
    for cls in type(module).__mro__:
        if not cls.__name__.startswith("Parametrized"):
            return cls
    return type(module)


def is_torch_layer(module: nn.Module) -> bool:
    """True for a non-container layer defined by ``torch.nn`` (masked or not)."""
    cls = _torch_class(module)
    return cls.__module__.startswith(("torch.nn", "torch.ao.nn")) and not isinstance(
        module, CONTAINERS
    )


def module_kind(module: nn.Module) -> str:
    """The layer's class name without the parametrization wrapper (``"Linear"``)."""
    return _torch_class(module).__name__


def split_fold(fold: Iterable | None) -> tuple[tuple[type, ...], frozenset[str]]:
    """``fold`` as (module types, qualified names); anything else is a usage error."""
    types, names = [], []
    for item in fold or ():
        if isinstance(item, type) and issubclass(item, nn.Module):
            types.append(item)
        elif isinstance(item, str):
            names.append(item)
        else:
            raise UsageError(
                f"fold: {item!r} is neither an nn.Module subclass nor a qualified module name"
            )
    return tuple(types), frozenset(names)


class LeafTracer(fx.Tracer):
    """fx tracer whose leaves are torch's layers and the folded modules; failures name the
    module that failed."""

    def __init__(self, fold: Iterable | None = None) -> None:
        super().__init__()
        self.fold_types, self.fold_names = split_fold(fold)

    def is_folded(self, module: nn.Module, qualified_name: str) -> bool:
        return qualified_name in self.fold_names or (
            bool(self.fold_types) and isinstance(module, self.fold_types)
        )

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return is_torch_layer(m) or self.is_folded(m, module_qualified_name)

    def call_module(self, m, forward, args, kwargs):
        path = self.path_of_module(m)
        if self.is_leaf_module(m, path):
            return super().call_module(m, forward, args, kwargs)
        try:
            return super().call_module(m, forward, args, kwargs)
        except TracingError:
            raise
        except Exception as exc:  # fx raises TraceError, TypeError, RuntimeError…
            raise _tracing_error(path, m, exc) from None


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _tracing_error(path: str, module: nn.Module, exc: Exception) -> TracingError:
    kind = type(module).__name__
    return TracingError(
        f"torch.fx cannot trace module '{path}' ({kind}): {_reason(exc)}; treat it as one "
        f"vertex with fold=['{path}'] or fold=[{kind}] (its forward is then not looked into)"
    )


def trace_model(model: nn.Module, fold: Iterable | None = None) -> fx.GraphModule:
    """``model`` as an fx ``GraphModule`` (torch layers and ``fold`` as leaves)."""
    if not isinstance(model, nn.Module):
        raise UsageError(f"expected an nn.Module to trace, got {type(model).__name__}")
    if is_torch_layer(model):  # a single layer: trace it as the one child of a wrapper
        model = nn.Sequential(model)
    tracer = LeafTracer(fold)
    try:
        graph = tracer.trace(model)
    except TracingError:
        raise
    except Exception as exc:
        kind = type(model).__name__
        raise TracingError(
            f"torch.fx cannot trace the forward of {kind} itself: {_reason(exc)}; make the "
            "model's own forward free of data-dependent control flow, or trace a wrapper "
            f"module that calls it with fold=[{kind}]"
        ) from None
    return fx.GraphModule(tracer.root, graph, type(model).__name__)


def node_kind(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    """What ``node`` computes: the layer class, the function or method name, ``input``…"""
    if node.op == "placeholder":
        return "input"
    if node.op == "output":
        return "output"
    if node.op == "call_module":
        return module_kind(modules[node.target])
    if node.op == "get_attr":
        return "parameter"
    target = node.target
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


@contextmanager
def evaluating(model: nn.Module):
    """``model`` in eval mode without gradients inside the block; every module's train/eval
    mode is restored afterwards (a forward pass then leaves BatchNorm statistics alone and
    dropout off)."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        for module, training in modes.items():
            module.training = training


def leaves(value: Any) -> Iterator[Any]:
    """The leaves of nested tuples, lists and dicts (a dict's values in order), depth first."""
    if isinstance(value, tuple | list):
        for v in value:
            yield from leaves(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    else:
        yield value


def output_tensors(output: Any, caller: str | None = None) -> list[torch.Tensor]:
    """The tensors of a model's output (nested tuples, lists, dicts), in order. A leaf that is
    no tensor is skipped, or, given ``caller`` (the function that compares the outputs), a
    :class:`UsageError` naming it."""
    tensors = []
    for leaf in leaves(output):
        if isinstance(leaf, torch.Tensor):
            tensors.append(leaf)
        elif caller is not None:
            raise UsageError(
                f"{caller} compares tensor outputs; the model returned {type(leaf).__name__}"
            )
    return tensors


def propagate_shapes(gm: fx.GraphModule, inputs: tuple) -> None:
    """Run ``gm`` once on ``inputs`` to record every node's ``tensor_meta`` (fx's ShapeProp)."""
    with evaluating(gm):
        ShapeProp(gm).propagate(*inputs)
