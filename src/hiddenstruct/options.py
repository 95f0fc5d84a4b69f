"""Keyword options over a frozen config dataclass: how ``train`` and ``iterative_prune``
take either a config object or their 0.1.0 keywords (keywords override the config)."""

from __future__ import annotations

from dataclasses import MISSING, fields, replace
from typing import Any, TypeVar

Config = TypeVar("Config")


def with_options(
    cls: type[Config], config: Config | None, options: dict[str, Any], caller: str
) -> Config:
    """``config`` (or a new ``cls``) with ``options`` applied; wrong types, unknown keywords
    and missing required fields fail with a TypeError naming what is valid."""
    if config is not None and not isinstance(config, cls):
        raise TypeError(f"{caller}() config must be an instance of {cls.__name__}, not {config!r}")
    valid = [f.name for f in fields(cls)]
    unknown = [name for name in options if name not in valid]
    if unknown:
        raise TypeError(
            f"{caller}() got unexpected keyword(s) {', '.join(unknown)}; valid: {', '.join(valid)}"
        )
    if config is not None:
        return replace(config, **options)
    required = [
        f.name
        for f in fields(cls)
        if f.default is MISSING and f.default_factory is MISSING and f.name not in options
    ]
    if required:
        raise TypeError(f"{caller}() needs {', '.join(required)} (a keyword or a {cls.__name__})")
    return cls(**options)
