"""Saved models of trials: files under ``<store folder>/artifacts/<trial hash>/`` recorded in
the store's ``artifacts`` table (name → path relative to the store's folder, so a moved
``runs/`` folder keeps working).

* :func:`save_state` — a full ``state_dict`` (base models, the best NAS candidate, priors
  models): masks and weights, loadable with ``torch.load(..., weights_only=True)``.
* :func:`save_pruning_level` — one pruning level, small: every mask bit-packed (1 bit per
  weight) and the surviving weights only where they differ from a reference state (e.g. the
  base model: without retraining a level is its masks alone).
* :func:`load_artifact` / :func:`restore_pruning_level` — load safely and rebuild the pruned
  model from a freshly built one.

Every file is written atomically (temporary file + rename); a re-run of a trial replaces its
files, and trials already done are never re-run, so resuming a sweep keeps them.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hiddenstruct.errors import HiddenstructError
from hiddenstruct.outputs import write_torch

if TYPE_CHECKING:  # torch is imported when an artifact is written (the CLI starts without it)
    import torch
    from torch import nn

FOLDER = "artifacts"


def artifact_root(store_path: str | Path) -> Path:
    """The folder beside the store that holds every trial's artifacts."""
    return Path(store_path).resolve().parent / FOLDER


def resolve_artifact(store_path: str | Path, path: str | Path) -> Path:
    """An artifact path as recorded in the store, made absolute (relative: to the store's folder).

    Only files inside the store's artifact folder are returned: a stored path that leads
    elsewhere (``..``, a symlink, another absolute path; a planted or edited store) is an error,
    so the loader is never pointed at another file.
    """
    path = Path(path)
    folder = Path(store_path).resolve().parent
    candidate = path if path.is_absolute() else folder / path
    root = artifact_root(store_path)
    if candidate.is_symlink() or not candidate.resolve().is_relative_to(root):
        raise HiddenstructError(
            f"artifact path {str(path)!r} recorded in {store_path} leads outside {root}, so it "
            f"is treated as missing from {root}; restore that folder beside the store or use a "
            "fresh --store"
        )
    return candidate


def pack_mask(mask: torch.Tensor) -> dict[str, Any]:
    """A binary mask as 1 bit per entry: ``{"shape": [...], "bits": uint8 tensor}``."""
    import torch

    flat = mask.detach().bool().flatten().cpu().numpy()
    return {"shape": list(mask.shape), "bits": torch.from_numpy(np.packbits(flat))}


def unpack_mask(packed: dict[str, Any]) -> torch.Tensor:
    """Inverse of :func:`pack_mask` (a bool tensor)."""
    import torch

    count = int(np.prod(packed["shape"]))
    bits = np.unpackbits(packed["bits"].numpy(), count=count).astype(bool)
    return torch.from_numpy(bits).reshape(packed["shape"])


def save_state(path: str | Path, model: nn.Module) -> Path:
    """Save ``model.state_dict()`` (CPU tensors) atomically."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return write_torch(Path(path), state)


def save_pruning_level(
    path: str | Path, model: nn.Module, reference: dict[str, torch.Tensor] | None = None
) -> Path:
    """Save one pruning level: bit-packed masks plus the surviving weights that differ from
    ``reference`` (a state_dict of the same model, e.g. the base model); other tensors
    (biases, buffers) only when they differ too."""
    import torch

    from hiddenstruct.nn.masking import masks, original

    reference = reference or {}
    level: dict[str, Any] = {"masks": {}, "weights": {}, "tensors": {}}
    masked_keys = set()
    for name, mask in masks(model).items():
        module_name, _, tensor = name.rpartition(".")
        module = model.get_submodule(module_name) if module_name else model
        values = original(module, tensor).detach().cpu()
        key = f"{module_name + '.' if module_name else ''}parametrizations.{tensor}.original"
        masked_keys.update({key, f"{key[: -len('original')]}0.mask"})
        level["masks"][name] = pack_mask(mask)
        kept = mask.detach().cpu().bool()
        base = reference.get(key, reference.get(name))  # the reference may be unmasked
        if base is None or not torch.equal(base.cpu()[kept], values[kept]):
            level["weights"][name] = values[kept].clone()
    for key, value in model.state_dict().items():
        if key in masked_keys:
            continue
        base = reference.get(key)
        if base is None or not torch.equal(base.cpu(), value.detach().cpu()):
            level["tensors"][key] = value.detach().cpu().clone()
    return write_torch(Path(path), level)


def load_artifact(path: str | Path) -> Any:
    """Load an artifact with ``weights_only=True`` (no code from the file is run)."""
    import torch

    try:
        return torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise HiddenstructError(
            f"cannot load artifact {path}: the file is missing; re-run the trial"
        ) from None
    except pickle.UnpicklingError as err:
        found = re.search(
            r"WeightsUnpickler error:\s*([^.\n]+)|(unsupported GLOBAL [\w.]+)", str(err)
        )
        cause = (found.group(1) or found.group(2)) if found else "not a torch file of tensors"
        raise HiddenstructError(
            f"cannot load artifact {path}: it holds objects other than tensors ({cause}), which "
            "weights_only=True refuses to build; it was not written by hiddenstruct or was "
            "replaced: delete it and re-run the trial"
        ) from None
    except (OSError, RuntimeError, EOFError, ValueError) as err:
        text = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        cause = re.split(r"(?<=[a-z])\. ", text.strip(), maxsplit=1)[0][:160] or type(err).__name__
        raise HiddenstructError(
            f"cannot load artifact {path}: damaged or not a torch file ({cause}); delete it "
            "and re-run the trial"
        ) from None


def restore_pruning_level(
    model: nn.Module, path: str | Path, reference: dict[str, torch.Tensor] | None = None
) -> nn.Module:
    """Rebuild a saved pruning level into ``model`` (built like the trial's): load
    ``reference`` (the base state) first, then the level's masks and weights."""
    import torch

    from hiddenstruct.nn.masking import apply_mask, load_state_dict, original

    if reference:
        load_state_dict(model, reference)
    level = load_artifact(path)
    with torch.no_grad():
        for name, packed in level["masks"].items():
            module_name, _, tensor = name.rpartition(".")
            module = model.get_submodule(module_name) if module_name else model
            mask = unpack_mask(packed)
            apply_mask(module, tensor, mask)
            if name in level["weights"]:
                values = original(module, tensor)
                values[mask.to(values.device)] = level["weights"][name].to(values)
        if level["tensors"]:
            model.load_state_dict(level["tensors"], strict=False)
    return model
