"""Binary masks attached to parameters as parametrizations.

``apply_mask(module, "weight", mask)`` makes ``module.weight`` evaluate to
``original ⊙ mask``. The original :class:`torch.nn.Parameter` object is kept (an
optimizer created before masking keeps working), the mask is a buffer in
``state_dict`` (key ``parametrizations.<name>.0.mask``), masked entries receive zero
gradient, ``copy.deepcopy`` and ``torch.save(model)`` work (see :func:`_reduce_masked`),
and ``remove_mask`` makes the pruning permanent.

Example::

    >>> layer = torch.nn.Linear(3, 2)
    >>> apply_mask(layer, "weight", torch.tensor([[1, 0, 1], [0, 1, 1]]))
    >>> int((layer.weight != 0).sum())
    4
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn.utils import parametrize


class Mask(nn.Module):
    """Parametrization ``x -> x * mask`` holding a validated binary mask buffer."""

    def __init__(self, mask: torch.Tensor, shape: torch.Size, name: str = "parameter") -> None:
        super().__init__()
        self.register_buffer("mask", validate_mask(mask, shape, name))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask

    @property
    def nonzero_fraction(self) -> float:
        """Fraction of entries that are kept (the paper's ξ of the mask)."""
        return float(self.mask.sum()) / max(self.mask.numel(), 1)

    def extra_repr(self) -> str:
        return f"shape={tuple(self.mask.shape)}, kept={int(self.mask.sum())}/{self.mask.numel()}"


def validate_mask(mask, shape: torch.Size, name: str = "parameter") -> torch.Tensor:
    """Return ``mask`` as a float tensor of ``shape`` with values in {0, 1}.

    Raises ``ValueError`` naming the parameter when the shape differs or a value is not binary.
    """
    mask = torch.as_tensor(mask)
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(
            f"mask for {name!r} has shape {tuple(mask.shape)}, expected {tuple(shape)}"
        )
    if mask.dtype == torch.bool:
        return mask.to(torch.get_default_dtype())
    if mask.is_complex() or not torch.all((mask == 0) | (mask == 1)):
        raise ValueError(f"mask for {name!r} must be binary (only 0 and 1)")
    return mask.to(torch.get_default_dtype()).detach().clone()


def is_masked(module: nn.Module, name: str) -> bool:
    """Whether ``module.<name>`` carries a :class:`Mask` parametrization."""
    return _mask_of(module, name) is not None


def _mask_of(module: nn.Module, name: str) -> Mask | None:
    if not parametrize.is_parametrized(module, name):
        return None
    for p in module.parametrizations[name]:
        if isinstance(p, Mask):
            return p
    return None


def apply_mask(module: nn.Module, name: str, mask) -> nn.Module:
    """Attach (or replace) a binary mask on ``module.<name>``; returns ``module``.

    Re-applying on an already masked parameter replaces the mask in place (same buffer),
    so optimizers and references stay valid. The mask is moved to the parameter's device.
    """
    existing = _mask_of(module, name)
    if existing is not None:
        shape = existing.mask.shape
        new = validate_mask(mask, shape, name).to(existing.mask.device, existing.mask.dtype)
        with torch.no_grad():
            existing.mask.copy_(new)
        return module
    param = getattr(module, name, None)
    if not isinstance(param, torch.Tensor):
        raise ValueError(f"{type(module).__name__} has no tensor named {name!r} to mask")
    parametrization = Mask(mask, param.shape, name).to(param.device, param.dtype)
    _own_class(module)
    parametrize.register_parametrization(module, name, parametrization)
    type(module).__reduce_ex__ = _reduce_masked
    if isinstance(module, nn.RNNBase) and "_flat_copy" not in type(module).__dict__:
        type(module)._flat_copy = type(module).__deepcopy__
        type(module).__deepcopy__ = _deepcopy_rnn
    return module


def _deepcopy_rnn(self: nn.RNNBase, memo):
    """Deep copy of a masked torch RNN: its ``_flat_weights`` (refreshed at every forward)
    hold the masked weights, products that ``deepcopy`` refuses; they are recomputed
    without autograd first (the next forward refreshes them anyway)."""
    with torch.no_grad():
        self._update_flat_weights()
    return type(self)._flat_copy(self, memo)


def _reduce_masked(self: nn.Module, protocol: int):
    """Pickle a masked module as (its unmasked copy, its masks).

    torch refuses to pickle parametrized modules (their class is generated at run time);
    a module whose only parametrizations are masks is rebuilt from a plain copy instead,
    so ``torch.save(model)`` / ``torch.load(path, weights_only=False)`` round-trip it.
    """
    names = list(self.parametrizations.keys())
    foreign = [n for n in names if [type(p) for p in self.parametrizations[n]] != [Mask]]
    if foreign:
        raise RuntimeError(
            f"cannot pickle {type(self).__name__}: {foreign} carry parametrizations other than "
            "a hiddenstruct mask; save its state_dict() instead"
        )
    plain = copy.deepcopy(self)
    kept = {}
    for name in names:
        kept[name] = get_mask(plain, name).detach().clone()
        remove_mask(plain, name, permanent=False)
    return (_rebuild_masked, (plain, kept))


def _rebuild_masked(module: nn.Module, mask_dict: dict[str, torch.Tensor]) -> nn.Module:
    """Inverse of :func:`_reduce_masked`: re-attach the masks to the unpickled plain module."""
    for name, mask in mask_dict.items():
        apply_mask(module, name, mask)
    return module


def _own_class(module: nn.Module) -> None:
    """Give a parametrized module a private copy of its generated class.

    ``copy.deepcopy`` of a parametrized module shares the generated ``Parametrized…``
    class, and torch adds/deletes the masked tensor's property on that class: removing a
    mask from a copy would otherwise break the original (and vice versa).
    """
    if not parametrize.is_parametrized(module):
        return
    cls = module.__class__
    namespace = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
    module.__class__ = type(cls.__name__, cls.__bases__, namespace)


def get_mask(module: nn.Module, name: str) -> torch.Tensor | None:
    """The mask buffer on ``module.<name>``, or ``None`` when it is not masked."""
    existing = _mask_of(module, name)
    return None if existing is None else existing.mask


def original(module: nn.Module, name: str) -> torch.Tensor:
    """The unmasked parameter behind ``module.<name>`` (the parameter itself if unmasked)."""
    if parametrize.is_parametrized(module, name):
        return module.parametrizations[name].original
    return getattr(module, name)


_HOOKS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
# torch's global module hooks: dicts it fills and empties in place
_GLOBAL_HOOKS = [
    hooks
    for name in _HOOKS
    if (hooks := getattr(torch.nn.modules.module, "_global" + name, None)) is not None
]


def _hooked(module: nn.Module) -> bool:
    state = module.__dict__
    return any(state.get(name) for name in _HOOKS)


def plain_mask(module: nn.Module, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(original, mask)`` of ``module.<name>`` when reading it would compute nothing but
    ``original ⊙ mask`` that anyone could watch: its only parametrization is a :class:`Mask`
    whose mask needs no gradient, no hook (forward or backward; the module's or a global
    one) watches that computation, and :func:`torch.nn.utils.parametrize.cached` is off;
    else ``None``.

    A kernel given the pair may compute the product itself (the recurrent engine does:
    one autograd node instead of one product per weight), and the result is the same.
    """
    # read through the modules' dicts: called per weight and forward, where Module's
    # attribute lookup would cost more than the product it saves
    params = module.__dict__.get("_modules", {}).get("parametrizations")
    chain = None if params is None else params._modules.get(name)
    if chain is None or len(chain._modules) != 1:
        return None
    (mask,) = chain._modules.values()
    if type(mask) is not Mask or _hooked(mask) or _hooked(chain) or _global_hooks():
        return None
    buffer = mask._buffers["mask"]
    if buffer.requires_grad or getattr(parametrize, "_cache_enabled", 0):
        return None
    return chain._parameters["original"], buffer


def _global_hooks() -> bool:
    return any(_GLOBAL_HOOKS)


def remove_mask(module: nn.Module, name: str, *, permanent: bool = True) -> nn.Module:
    """Remove the mask from ``module.<name>``.

    With ``permanent=True`` (default) the masked entries are zeroed in the parameter, so
    pruning survives without the mask; otherwise the original values come back.
    The parameter object stays the same.
    """
    if not is_masked(module, name):
        raise ValueError(f"{type(module).__name__}.{name} carries no mask")
    _own_class(module)
    parametrize.remove_parametrizations(module, name, leave_parametrized=permanent)
    return module


def masked_modules(model: nn.Module) -> Iterator[tuple[str, nn.Module, str]]:
    """Yield ``(qualified_name, module, tensor_name)`` for every masked tensor in ``model``."""
    for module_name, module in model.named_modules():
        if not parametrize.is_parametrized(module):
            continue
        for tensor_name in list(module.parametrizations.keys()):
            if is_masked(module, tensor_name):
                full = f"{module_name}.{tensor_name}" if module_name else tensor_name
                yield full, module, tensor_name


def masks(model: nn.Module) -> dict[str, torch.Tensor]:
    """All masks of ``model`` keyed by the qualified parameter name (e.g. ``"layers.0.weight"``)."""
    return {full: get_mask(mod, name) for full, mod, name in masked_modules(model)}


def apply_masks(model: nn.Module, mask_dict: dict[str, torch.Tensor]) -> nn.Module:
    """Apply several masks keyed by qualified parameter names (inverse of :func:`masks`)."""
    for full, mask in mask_dict.items():
        module_name, _, tensor_name = full.rpartition(".")
        module = model.get_submodule(module_name) if module_name else model
        apply_mask(module, tensor_name, mask)
    return model


def load_state_dict(model: nn.Module, state: dict[str, torch.Tensor], strict: bool = True):
    """Load a (possibly masked) ``state_dict`` into ``model``, creating missing masks first.

    Lets a state saved from a masked model load into a freshly built, unmasked one.
    """
    suffix = ".0.mask"
    for key, value in state.items():
        if not key.endswith(suffix) or ".parametrizations." not in f".{key}":
            continue
        prefix, _, rest = f".{key}".rpartition(".parametrizations.")
        tensor_name = rest[: -len(suffix)]
        module_name = prefix[1:]
        module = model.get_submodule(module_name) if module_name else model
        if not is_masked(module, tensor_name):
            apply_mask(module, tensor_name, value)
    return model.load_state_dict(state, strict=strict)
