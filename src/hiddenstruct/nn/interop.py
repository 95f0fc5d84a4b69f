"""Interop with plain PyTorch: ``torch.nn.utils.prune`` masks, permanent pruning, saving.

* :func:`from_torch_prune` turns the masks that ``torch.nn.utils.prune`` attaches
  (``weight_orig`` + ``weight_mask`` + a forward pre-hook) into hiddenstruct masks, keeping
  the parameter object, so :func:`hiddenstruct.pruning.prune` continues from them (it calls
  this itself) instead of treating ``weight_orig`` as unpruned.
* :func:`remove_masks` makes all pruning of a model permanent (masked entries become zeros
  in the parameters; the output is unchanged) and leaves a plain ``nn.Module``.
* ``torch.save(model)`` of a masked model works (see :mod:`hiddenstruct.nn.masking`);
  ``torch.export.export`` works on masked and compacted models.

Example::

    >>> torch.nn.utils.prune.l1_unstructured(layer, "weight", amount=0.5)
    >>> from_torch_prune(layer)          # now a hiddenstruct mask on layer.weight
    >>> remove_masks(model)              # plain tensors, zeros where pruned
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils import prune as torch_prune

from hiddenstruct.nn.masking import apply_mask, masked_modules, remove_mask


def torch_pruned_tensors(model: nn.Module) -> list[str]:
    """Qualified names of the tensors pruned with ``torch.nn.utils.prune`` in ``model``."""
    return [
        f"{prefix}.{hook._tensor_name}" if prefix else hook._tensor_name
        for prefix, module in model.named_modules()
        for hook in module._forward_pre_hooks.values()
        if isinstance(hook, torch_prune.BasePruningMethod)
    ]


def _convert_one(module: nn.Module, key: int, name: str) -> None:
    orig = module._parameters[f"{name}_orig"]
    mask = module._buffers[f"{name}_mask"]
    del module._forward_pre_hooks[key]
    del module._parameters[f"{name}_orig"]
    del module._buffers[f"{name}_mask"]
    if name in module.__dict__:  # the hook's last computed orig * mask
        del module.__dict__[name]
    module.register_parameter(name, orig)  # the same Parameter: optimizers keep working
    apply_mask(module, name, mask.detach() != 0)


def from_torch_prune(model: nn.Module) -> nn.Module:
    """Replace every ``torch.nn.utils.prune`` mask in ``model`` by a hiddenstruct mask.

    The effective weights (and so the output) stay the same; returns ``model``.
    """
    for module in model.modules():
        for key, hook in list(module._forward_pre_hooks.items()):
            if isinstance(hook, torch_prune.BasePruningMethod):
                _convert_one(module, key, hook._tensor_name)
    return model


def remove_masks(model: nn.Module) -> nn.Module:
    """Make all pruning permanent: zeros in the parameters, no masks or prune hooks left."""
    from_torch_prune(model)
    for _, module, tensor_name in list(masked_modules(model)):
        remove_mask(module, tensor_name, permanent=True)
    return model
