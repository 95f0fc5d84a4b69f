"""Experiment configs: one frozen dataclass per experiment is the single source of its settings.

A field is declared with :func:`setting` (help text, choices, range, a parser for its CLI
strings, old option names kept as hidden aliases, whether it is part of trial identity;
:mod:`hiddenstruct.trials.settings`, whose names this module exports too). From the
dataclass come the CLI options (:mod:`hiddenstruct.cli.experiment`), TOML config files
(:func:`load_toml`, :func:`to_toml`) and the validation (:func:`check_config`, run on
construction by :class:`ExperimentConfig`). Presets are named override sets of the defaults;
:func:`resolve_config` layers defaults, a preset, a file and explicit options.
:func:`trial_parts` and :func:`repeated_trials` turn a config into its trials' configs.

Example::

    >>> @dataclass(frozen=True)
    ... class ToyConfig(ExperimentConfig):
    ...     lr: float = setting(1e-3, "learning rate", low=0, low_open=True)
    >>> resolve_config(ToyConfig, {"small": {}, "paper": {"lr": 0.01}}, "paper", {}, {})
    ToyConfig(lr=0.01)
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import tomllib

from hiddenstruct.errors import UsageError
from hiddenstruct.trials.hashing import to_jsonable
from hiddenstruct.trials.settings import (
    RUNTIME,
    SEED_RANGE,
    THREADS_KEY,
    ExperimentConfig,
    FieldSpec,
    added_defaults,
    check_config,
    coerce_value,
    device_name,
    device_setting,
    element_problem,
    field_specs,
    parse_bool,
    parse_element,
    setting,
    threads_setting,
)

__all__ = [
    "MAX_TOML_BYTES",
    "RUNTIME",
    "SEED_RANGE",
    "THREADS_KEY",
    "ExperimentConfig",
    "FieldSpec",
    "added_defaults",
    "check_config",
    "coerce_value",
    "device_name",
    "device_setting",
    "element_problem",
    "field_specs",
    "file_values",
    "load_toml",
    "parse_bool",
    "parse_element",
    "preset_values",
    "repeated_trials",
    "resolve_config",
    "setting",
    "threads_setting",
    "to_toml",
    "trial_parts",
]


# ---- presets, files, resolution ---------------------------------------------------------------
def preset_values(presets: Mapping[str, Mapping[str, Any]], name: str) -> dict[str, Any]:
    """The overrides of a named preset; unknown names list the valid ones."""
    if name not in presets:
        raise UsageError(f"unknown preset {name!r}; valid: {', '.join(presets)}")
    return dict(presets[name])


def file_values(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """TOML table → field values (keys as field names or option names); unknown keys fail."""
    specs = {s.name: s for s in field_specs(cls)}
    out = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name == "preset":  # chosen by the caller (see cli.experiment.resolve_from_args)
            continue
        if name not in specs:
            raise UsageError(f"unknown config key {key!r}; valid keys: preset, {', '.join(specs)}")
        out[name] = coerce_value(specs[name], value)
    return out


MAX_TOML_BYTES = 1_000_000  # our bound: a config is a few hundred bytes


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file (UsageError when missing, too big, not UTF-8, nested too deeply
    or malformed)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_TOML_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist") from None
    except OSError as err:
        raise UsageError(f"cannot read config file {path}: {err.strerror or err}") from None
    if len(data) > MAX_TOML_BYTES:
        raise UsageError(
            f"config file {path} is larger than {MAX_TOML_BYTES:,} bytes; a config is a short "
            "TOML file (write one with --print-config)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(
            f"config file {path} is not UTF-8 text (byte {err.start}); write it as UTF-8 TOML"
        ) from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise UsageError(
            f"config file {path} is nested too deeply; a config holds values and lists of lists"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"cannot read config file {path}: {err}") from None


def resolve_config(
    cls: type,
    presets: Mapping[str, Mapping[str, Any]],
    preset: str,
    from_file: Mapping[str, Any],
    explicit: Mapping[str, Any],
) -> Any:
    """Defaults < preset < file < explicit options; returns the validated config."""
    values = preset_values(presets, preset)
    values.update(file_values(cls, from_file))
    values.update(explicit)
    return cls(**values)


def _toml_value(value: Any) -> str:
    if value is None:
        return '"none"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise UsageError(f"cannot write {value!r} to TOML")


def to_toml(config: Any, header: str = "") -> str:
    """The config as TOML, one ``key = value`` per field (``"none"`` stands for no value)."""
    lines = [f"# {line}" for line in header.splitlines()]
    for spec in field_specs(type(config)):
        help_text = spec.metadata.get("help", "")
        if help_text:
            lines.append(f"# {help_text}")
        lines.append(f"{spec.name} = {_toml_value(getattr(config, spec.name))}")
    return "\n".join(lines) + "\n"


# ---- trials of a config ---------------------------------------------------------------------
def trial_parts(config: Any, sweep: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(settings, runtime)`` of a config: identity fields except ``sweep`` ones, runtime fields."""

    settings, runtime = {}, {}
    for spec in field_specs(type(config)):
        if spec.name in sweep:
            continue
        target = runtime if spec.metadata.get(RUNTIME) else settings
        target[spec.name] = to_jsonable(getattr(config, spec.name))
    return settings, runtime


def repeated_trials(
    config: Any,
    parts: tuple[dict[str, Any], dict[str, Any]],
    axes: dict[str, Sequence[Any]],
    trial: Callable[..., dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One trial config per repeat (outermost) and combination of the ``axes`` values (the
    last axis varies fastest). ``parts`` is ``(common, runtime)`` as :func:`trial_parts`
    gives them; each trial is ``trial(common, **values)`` (default ``{**common, **values}``),
    then ``repeat``, ``seed`` (``config.seed + repeat``) and a copy of ``runtime``."""
    common, runtime = parts
    make = trial or (lambda common, **values: {**common, **values})
    return [
        {
            **make(common, **dict(zip(axes, values, strict=True))),
            "repeat": repeat,
            "seed": config.seed + repeat,
            "runtime": dict(runtime),
        }
        for repeat in range(config.repeats)
        for values in itertools.product(*axes.values())
    ]
