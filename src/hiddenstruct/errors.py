"""Exception types for expected failures, and the one wording for an unknown name.

The CLI turns a :class:`UsageError` into exit code 2 and any other
:class:`HiddenstructError` into exit code 1, printing only the message (no traceback).

A name that is not one of a fixed set of choices (a registry's keys, a tuple of modes)
fails with one line, ``unknown {what} {name!r}; valid: a, b, c``, raised by :func:`lookup`
(returns the table's entry) or :func:`check_choice` (returns the name); the choices are
listed in their own order (a set's sorted).
"""

import signal
from collections.abc import Callable, Collection, Hashable, Mapping
from typing import Any, TypeVar

V = TypeVar("V")


class HiddenstructError(Exception):
    """An expected runtime failure with a message meant for the user (exit code 1)."""


class UsageError(HiddenstructError):
    """Invalid settings or arguments given by the user (exit code 2)."""


class DataError(HiddenstructError):
    """A dataset file is missing, truncated or of the wrong format."""


class GraphError(HiddenstructError, ValueError):
    """A graph cannot be used as asked (cycle, self-loop, empty, disconnected, ...)."""


class UnsupportedModelError(HiddenstructError, TypeError):
    """A model an operation cannot handle (no graph structure ``to_graph`` can extract, no
    exact Hessian diagonal for OBD, ...); the message says which part and why."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: the CLI prints ``note`` on one line and exits ``128 + signum``."""

    last_signum: int | None = None  # set by the CLI's SIGTERM handler (see signal_number)

    def __init__(self, signum: int, note: str = "") -> None:
        super().__init__(note)
        self.signum = int(signum)
        self.note = note


def signal_number(err: KeyboardInterrupt) -> int:
    """The signal behind ``err``: its own for :class:`Interrupted`; else the last one the CLI's
    handler recorded (a library such as Ray may re-raise a plain ``KeyboardInterrupt`` in
    its place); else SIGINT (Ctrl-C)."""
    if isinstance(err, Interrupted):
        return err.signum
    return Interrupted.last_signum or int(signal.SIGINT)


class TrainingDiverged(HiddenstructError):
    """The loss or the parameters became NaN/inf: the trial fails (never stored as a result)."""


def unknown_name(what: str, name: Any, choices: Collection, hint: str = "") -> str:
    """``unknown {what} {name!r}; valid: a, b, c`` (then `` {hint}`` when given).

    ``choices`` are listed comma-separated in their own order (a set's sorted, so the
    message does not depend on hashing); ``hint`` names another accepted form, e.g.
    ``"or pass a callable"``.
    """
    names = sorted(choices, key=str) if isinstance(choices, (set, frozenset)) else choices
    message = f"unknown {what} {name!r}; valid: {', '.join(map(str, names))}"
    return f"{message} {hint}" if hint else message


def lookup(
    table: Mapping[Any, V],
    name: Any,
    what: str,
    *,
    key: Callable[[Any], Hashable] | None = None,
    hint: str = "",
    error: Callable[[str], Exception] = UsageError,
) -> V:
    """``table[name]`` (``table[key(name)]`` when ``key`` normalises, e.g. ``str.lower``).

    A missing or unhashable name raises ``error`` (default :class:`UsageError`) with the
    :func:`unknown_name` message, which shows ``name`` as given and lists ``table``'s keys.
    """
    try:
        return table[name if key is None else key(name)]
    except (KeyError, TypeError):
        raise error(unknown_name(what, name, table, hint)) from None


def check_choice(
    name: Any,
    choices: Collection,
    what: str,
    *,
    hint: str = "",
    error: Callable[[str], Exception] = UsageError,
) -> Any:
    """``name`` when it is one of ``choices``; else ``error`` with the :func:`unknown_name` message."""
    try:
        known = name in choices
    except TypeError:  # an unhashable name asked of a set or dict
        known = False
    if not known:
        raise error(unknown_name(what, name, choices, hint))
    return name
