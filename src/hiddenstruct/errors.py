"""Exception types for expected failures.

The CLI turns a :class:`UsageError` into exit code 2 and any other
:class:`HiddenstructError` into exit code 1, printing only the message (no traceback).
"""

import signal


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
