"""Modules with explicit sparse structure."""

from hiddenstruct.nn.masking import (
    Mask,
    apply_mask,
    apply_masks,
    get_mask,
    is_masked,
    load_state_dict,
    masked_modules,
    masks,
    original,
    remove_mask,
    validate_mask,
)

__all__ = [
    "Mask",
    "apply_mask",
    "apply_masks",
    "get_mask",
    "is_masked",
    "load_state_dict",
    "masked_modules",
    "masks",
    "original",
    "remove_mask",
    "validate_mask",
]
