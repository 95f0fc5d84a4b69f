"""Stable identities of trial configs: JSON resolution and sha256 hashing.

A trial's identity is ``sha256(json.dumps(resolved_config, sort_keys=True))``. So that adding a
setting later does not rename the trials already stored, a new setting must be declared so it
is left out of the hash while it holds its default:

- dataclass configs: declare it with :func:`added_field` (metadata ``ADDED_LATER``);
- dict configs: pass its default in ``defaults`` (see :func:`hashable_config`).

Example::

    >>> @dataclass(frozen=True)
    ... class Cfg:
    ...     lr: float = 0.1
    ...     dropout: float = added_field(0.0)   # added after trials were stored
    >>> config_hash(Cfg()) == config_hash({"lr": 0.1})
    True
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from hiddenstruct.errors import UsageError

ADDED_LATER = "hiddenstruct.added_later"
#: Metadata key: the value trials stored before a field existed implicitly had, when a later
#: release changed the field's default (left out of the hash at this value, not the default).
LEGACY_VALUE = "hiddenstruct.legacy_value"


def added_field(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Any = dataclasses.MISSING,
    help: str = "",
) -> Any:
    """A dataclass field added after trials were stored: omitted from the hash while at its default."""
    metadata = {ADDED_LATER: True, "help": help}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    if default is dataclasses.MISSING:
        raise UsageError(
            "added_field needs a default: fields added later must not change old hashes"
        )
    return dataclasses.field(default=default, metadata=metadata)


def _field_default(field: dataclasses.Field) -> Any:
    if LEGACY_VALUE in field.metadata:
        return field.metadata[LEGACY_VALUE]
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return field.default_factory()  # type: ignore[misc]
    return dataclasses.MISSING


def to_jsonable(value: Any, *, for_hash: bool = False) -> Any:
    """Resolve a config (dataclass, mapping, sequence, path, enum, numpy scalar) to plain JSON types.

    With ``for_hash``, dataclass fields declared with :func:`added_field` are dropped while equal
    to their default (or to their :data:`LEGACY_VALUE`, when the default changed later).
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if for_hash and field.metadata.get(ADDED_LATER) and item == _field_default(field):
                continue
            out[field.name] = to_jsonable(item, for_hash=for_hash)
        return out
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, for_hash=for_hash) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, for_hash=for_hash) for v in value]
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, for_hash=for_hash)
    if isinstance(value, PurePath):
        return str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return to_jsonable(value.item(), for_hash=for_hash)
    raise UsageError(
        f"config value {value!r} of type {type(value).__name__} is not JSON-serialisable; "
        "use numbers, strings, booleans, lists, dicts or dataclasses"
    )


def hashable_config(config: Any, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The resolved config that is hashed: added-later fields at their default are dropped.

    For dict configs, ``defaults`` names keys added later with their defaults; a key whose value
    equals its default is dropped, so old hashes survive adding the key.
    """
    resolved = to_jsonable(config, for_hash=True)
    if not isinstance(resolved, dict):
        raise UsageError(f"a config must be a dict or a dataclass, got {type(config).__name__}")
    for key, default in (defaults or {}).items():
        if key in resolved and resolved[key] == to_jsonable(default):
            del resolved[key]
    return resolved


def _check_finite(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"config values must be finite numbers, got {value}")
    if isinstance(value, dict):
        for item in value.values():
            _check_finite(item)
    if isinstance(value, list):
        for item in value:
            _check_finite(item)


def config_hash(config: Any, defaults: Mapping[str, Any] | None = None) -> str:
    """sha256 (hex) of the sorted-key compact JSON of :func:`hashable_config`."""
    resolved = hashable_config(config, defaults)
    _check_finite(resolved)
    text = json.dumps(resolved, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
