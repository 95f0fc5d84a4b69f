"""Settings: the fields of an experiment config, declared with :func:`setting`.

A field carries its help text, choices, range, a parser for its CLI strings, old option
names kept as hidden aliases and whether it is part of trial identity. :func:`field_specs`
reads them back (:class:`FieldSpec`); :func:`parse_element` and :func:`coerce_value` turn a
CLI string or a TOML value into the field's value; :func:`check_config` (run on construction
by :class:`ExperimentConfig`) validates a whole config. :func:`device_setting` and
:func:`threads_setting` are the fields every experiment has. Configs, presets and TOML
files: :mod:`hiddenstruct.trials.config`.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from hiddenstruct.errors import UsageError
from hiddenstruct.trials.hashing import ADDED_LATER, LEGACY_VALUE

SEED_RANGE = (0, 2**32 - 1)  # every seed field: NumPy's legacy seeding takes 32 bits
RUNTIME = "hiddenstruct.runtime"  # metadata key: not part of trial identity (paths, device)
_NO_LEGACY = object()


def setting(
    default: Any,
    help: str,
    *,
    choices: tuple[Any, ...] | None = None,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    parse: Callable[[str], Any] | None = None,
    metavar: str | None = None,
    nargs: str | None = "auto",
    aliases: tuple[str, ...] = (),
    runtime: bool = False,
    added: bool = False,
    legacy: Any = _NO_LEGACY,
    show: Callable[[Any], str] | None = None,
) -> Any:
    """A config field with everything the CLI, config files and validation need.

    ``choices``/``low``/``high`` apply to each element of a tuple field; ``parse`` turns one CLI
    string into one element (or the whole value when ``nargs=None``); ``aliases`` are old option
    names accepted but hidden; ``runtime`` keeps the field out of trial identity (paths, device);
    ``added`` marks a field added after trials were stored (left out of identity at its default);
    ``legacy`` (implies ``added``) is the value such old trials implicitly had when it is not
    the default any more: left out of identity at ``legacy``, so a changed default makes new
    trials while an explicit old value keeps the old identity;
    ``show`` writes a value as the CLI spells it (for ``--help``, when ``parse`` maps names).
    """
    metadata = {
        "help": help,
        "choices": choices,
        "range": (low, high, low_open, high_open),
        "parse": parse,
        "metavar": metavar,
        "nargs": nargs,
        "aliases": aliases,
        "show": show,
        RUNTIME: runtime,
        ADDED_LATER: added or legacy is not _NO_LEGACY,
    }
    if legacy is not _NO_LEGACY:
        metadata[LEGACY_VALUE] = legacy
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """What :func:`field_specs` knows about one config field."""

    name: str
    default: Any
    scalar: Any  # int, float, str, bool (element type of a tuple)
    is_tuple: bool
    nested: bool  # tuple of tuples of ints (e.g. architectures)
    optional: bool
    metadata: Mapping[str, Any]

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


def _unwrap(hint: Any) -> tuple[Any, bool]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return inner, True
    return hint, False


def field_specs(cls: type) -> list[FieldSpec]:
    """One :class:`FieldSpec` per field of a config dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        hint, optional = _unwrap(hints[f.name])
        is_tuple = typing.get_origin(hint) is tuple
        scalar = typing.get_args(hint)[0] if is_tuple else hint
        nested = typing.get_origin(scalar) is tuple
        metadata = f.metadata
        if f.name == "seed" and metadata.get("range", (None,) * 4)[:2] == (None, None):
            metadata = {**metadata, "range": (SEED_RANGE[0], SEED_RANGE[1], False, False)}
        specs.append(FieldSpec(f.name, f.default, scalar, is_tuple, nested, optional, metadata))
    return specs


def added_defaults(cls: type) -> dict[str, Any]:
    """Fields added after trials were stored, with the value old trials had (left out of
    identity there): the field's ``legacy`` value when its default changed later, else its default."""
    return {
        s.name: s.metadata.get(LEGACY_VALUE, s.default)
        for s in field_specs(cls)
        if s.metadata.get(ADDED_LATER)
    }


# ---- values ---------------------------------------------------------------------------------
def _describe_range(spec: FieldSpec) -> str:
    low, high, low_open, high_open = spec.metadata.get("range", (None, None, False, False))
    if spec.metadata.get("choices"):
        return "one of " + ", ".join(map(str, spec.metadata["choices"]))
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return f"a {spec.scalar.__name__}" if isinstance(spec.scalar, type) else "valid"


def element_problem(spec: FieldSpec, value: Any) -> str | None:
    """Why ``value`` is not a valid element of ``spec`` (None when it is)."""
    choices = spec.metadata.get("choices")
    if choices and value not in choices:
        return f"got {value!r}; valid: {', '.join(map(str, choices))}"
    low, high, low_open, high_open = spec.metadata.get("range", (None, None, False, False))
    if isinstance(value, float) and not math.isfinite(value):
        return f"got {value}; must be a finite number"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            return f"got {value}; must be {_describe_range(spec)}"
    return None


def parse_bool(text: str) -> bool:
    """CLI boolean: true/false, yes/no, 1/0."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def parse_element(spec: FieldSpec, text: str) -> Any:
    """One CLI string → one element (``none`` allowed for optional fields); ValueError if bad."""
    if spec.optional and text.strip().lower() == "none":
        return None
    parser = spec.metadata.get("parse")
    if parser is not None:
        return parser(text)
    if spec.scalar is bool:
        return parse_bool(text)
    return spec.scalar(text)


def _coerce_scalar(spec: FieldSpec, value: Any) -> Any:
    parses_elements = spec.metadata.get("nargs") is not None  # else parse reads the whole value
    if isinstance(value, str) and parses_elements and spec.metadata.get("parse") is not None:
        return spec.metadata["parse"](value)
    if spec.nested:
        if not isinstance(value, list) or not value or not all(_is_int(v) for v in value):
            raise ValueError(f"expected a list of integers, got {value!r}")
        return tuple(value)
    if spec.scalar is float and _is_int(value):
        return float(value)
    if spec.scalar is bool and isinstance(value, bool):
        return value
    if spec.scalar is int and _is_int(value):
        return value
    if spec.scalar in (float, str) and isinstance(value, spec.scalar):
        return value
    raise ValueError(f"expected {spec.scalar.__name__}, got {type(value).__name__} {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def coerce_value(spec: FieldSpec, value: Any) -> Any:
    """A value from a TOML file → the field's Python value; UsageError naming the key if wrong."""
    try:
        if spec.optional and (value is None or (isinstance(value, str) and value == "none")):
            return None
        whole = spec.metadata.get("nargs") is None and spec.metadata.get("parse") is not None
        if whole and isinstance(value, str):
            return spec.metadata["parse"](value)
        if spec.is_tuple:
            if not isinstance(value, list):
                raise ValueError(f"expected a list, got {type(value).__name__} {value!r}")
            return tuple(_coerce_scalar(spec, v) for v in value)
        return _coerce_scalar(spec, value)
    except (ValueError, TypeError) as err:
        raise UsageError(f"config key {spec.name!r}: {err}") from None


def check_config(config: Any) -> None:
    """Validate every field against its declared choices/range; UsageError naming the option."""
    for spec in field_specs(type(config)):
        value = getattr(config, spec.name)
        if value is None:
            if not spec.optional:
                raise UsageError(f"{spec.option} needs a value ({_describe_range(spec)})")
            continue
        if spec.is_tuple and not value:
            raise UsageError(f"{spec.option} needs at least one value ({_describe_range(spec)})")
        elements = value if spec.is_tuple else (value,)
        if spec.nested:  # e.g. architectures: check every size of every tuple
            elements = [size for sizes in value for size in sizes]
        for element in elements:
            problem = element_problem(spec, element)
            if problem is not None:
                raise UsageError(f"{spec.option}: {problem}")
    check = getattr(config, "check", None)
    if check is not None:
        check()


class ExperimentConfig:
    """Mixin for config dataclasses: validated on construction (and on ``replace``)."""

    def __post_init__(self) -> None:
        check_config(self)


# ---- shared field kinds ----------------------------------------------------------------------
def device_name(text: str) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (checked without importing torch)."""
    value = text.strip().lower()
    index = value.partition(":")[2]
    if value in ("auto", "cpu", "cuda") or (value.startswith("cuda:") and index.isdigit()):
        return value
    raise ValueError(f"expected auto, cpu, cuda or cuda:N, got {text!r}")


def device_setting() -> Any:
    """The ``--device`` field every experiment has (runtime: not part of trial identity)."""
    return setting(
        "auto",
        "where trials compute: auto (CUDA when present), cpu, cuda or cuda:N",
        parse=device_name,
        metavar="DEVICE",
        runtime=True,
    )


THREADS_KEY = "threads"  # a trial config's torch CPU threads (applied by executors.execute_trial)


def threads_setting() -> Any:
    """The ``--threads`` field every experiment has: torch CPU threads per trial (per worker).

    Default 1 — measured on a loaded 2-core machine: a small prune-ffn run took 2 min 13 s
    with torch's default threads and 17.5 s with one; ``benchmarks/bench_threads.py``
    trains the demo's digits MLP 24.6× and its Reber GRU 32.7× faster with 1 thread than 2.
    Part of trial identity when not 1: torch's CPU kernels reduce in a thread-count-dependent
    order, so weights differ in the last bits (about 1e-8 after 20 Adam steps) and a trial is
    only reproducible at its own thread count. At 1 it is left out (``added``), so trials
    stored before the setting existed keep their identity.
    """
    return setting(
        1,
        "torch CPU threads per trial (per worker with --workers); 1 is fastest for these small "
        "models on a shared machine; part of a trial's identity when not 1 (results differ "
        "in the last bits between thread counts)",
        low=1,
        added=True,
    )
