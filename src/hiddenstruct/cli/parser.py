"""The CLI's argument parser: every usage error is one line, options are never abbreviated.

:class:`CommandParser` is the ``hiddenstruct`` parser and, through ``add_subparsers``, every
sub-command's. A bad value prints

    hiddenstruct experiment prune-ffn: error: --relative-p 1.5: must be in (0, 1]; see
    `hiddenstruct experiment prune-ffn --help`

(one line, exit 2, no usage dump); an unknown option is named by the sub-command that does not
know it, with the closest option it does know. ``allow_abbrev`` is off: ``--meth`` is not
``--methods``.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys

_VALUE = "\x00"  # marks a type error that starts with the rejected value (see value_error)


def value_error(text: str, reason: str) -> argparse.ArgumentTypeError:
    """The error an argparse ``type`` raises: shown as ``--option TEXT: REASON``."""
    return argparse.ArgumentTypeError(f"{_VALUE}{text}: {reason}")


def _closest(word: str, candidates) -> str:
    by_lower = {str(c).lower(): str(c) for c in candidates}
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.5)
    return f" (closest: {by_lower[match[0]]})" if match else ""


def _strip_quotes(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def one_line(message: str) -> str:
    """argparse's message in our words (see the module doc)."""
    found = re.match(r"argument ([^:]+): (.*)", message, re.S)
    if found is None:
        return message
    where, rest = found.group(1).split("/")[-1], found.group(2)
    if rest.startswith(_VALUE):
        return f"{where} {rest[len(_VALUE) :]}"
    choice = re.match(r"invalid choice: (.*?) \(choose from (.*)\)$", rest, re.S)
    if choice is not None:
        value = _strip_quotes(choice.group(1))
        options = [_strip_quotes(c.strip()) for c in choice.group(2).split(",")]
        return f"{where} {value}: must be one of {', '.join(options)}{_closest(value, options)}"
    return f"{where}: {rest}"


class CommandParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with one-line errors and no abbreviations (module doc)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def _has_subcommands(self) -> bool:
        return any(isinstance(a, argparse._SubParsersAction) for a in self._actions)

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras and not self._has_subcommands():  # the command that does not know it says so
            self.error(self.unknown(extras))
        return namespace, extras

    def unknown(self, extras: list[str]) -> str:
        options = [e for e in extras if e.startswith("-") and len(e) > 1]
        if not options:
            return f"unexpected argument(s): {' '.join(extras)}"
        name = options[0].split("=", 1)[0]
        known = [o for o in self._option_string_actions if o.startswith("--")]
        more = f" (and {len(options) - 1} more)" if len(options) > 1 else ""
        return f"unknown option {name}{more}{_closest(name, known)}"

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {one_line(message)}; see `{self.prog} --help`\n")
        raise SystemExit(2)
