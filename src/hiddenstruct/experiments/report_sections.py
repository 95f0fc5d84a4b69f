"""What the report says per experiment: each of the paper's claims next to this run's number
and a verdict computed from the data.

The types and helpers of every section. Each experiment's section is a :class:`SectionSpec`
(heading, figure and table order, and a ``summarize(folder) -> Summary`` function reading the
experiment's output files) in its package's ``report_section`` module, which its
:class:`~hiddenstruct.experiments.base.Experiment` names as ``report_section``; the report
shows them in the registry's order (the paper's §4.1 → §4.4, then the sparse-routes
extension).

A :class:`Claim`'s verdict is one of :data:`VERDICTS`: ``agrees`` / ``disagrees`` when this
run's numbers can be set against the paper's, ``not comparable`` with the reason when they
cannot (models at chance, a grid without the paper's level, too few graphs). Comparisons
within :data:`TOLERANCE` count as "the same" — our choice, the paper gives no tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where a table is read: the CLI loads every section
    import pandas as pd

AGREES, DISAGREES, NOT_COMPARABLE = "agrees", "disagrees", "not comparable"
VERDICTS = (AGREES, DISAGREES, NOT_COMPARABLE)
#: Two accuracies within 5 points count as "nearly the same" / "near" (our choice).
TOLERANCE = 0.05


@dataclass
class Claim:
    """One claim of the paper: its number, this run's number, the verdict and why."""

    claim: str
    paper: str
    ours: str
    verdict: str
    reason: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


@dataclass
class Summary:
    """The paper's claims with verdicts, this run's key numbers (a small table) and notes."""

    claims: list[Claim] = field(default_factory=list)
    key_numbers: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def paper_claims(self) -> list[str]:
        """The claims' texts."""
        return [c.claim for c in self.claims]


@dataclass(frozen=True)
class SectionSpec:
    """One report section: heading, file order (glob patterns) and its summary function."""

    experiment: str
    heading: str
    figures: tuple[str, ...]
    tables: tuple[str, ...]
    summarize: Callable[[Path], Summary]


def unknown_claim(text: str, paper: str, why: str) -> Claim:
    """A claim this run has no number for: not comparable, and why."""
    return Claim(text, paper, "n/a", NOT_COMPARABLE, why)


def missing_claims(claims: list[tuple[str, str]], why: str) -> list[Claim]:
    return [unknown_claim(text, paper, why) for text, paper in claims]


def combine(verdicts: list[str]) -> str:
    """One verdict from parts: disagrees if any part does, agrees if every comparable part
    does, not comparable when none is comparable."""
    comparable = [v for v in verdicts if v != NOT_COMPARABLE]
    if not comparable:
        return NOT_COMPARABLE
    return DISAGREES if DISAGREES in comparable else AGREES


def read_csv(folder: Path, name: str) -> pd.DataFrame | None:
    import pandas as pd

    path = folder / name
    if path.is_symlink() or not path.is_file():  # a link is never read (docs/reliability.md)
        return None
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return None


def percent(value) -> str:
    return "n/a" if value is None or not finite(value) else f"{100 * value:.1f} %"


def finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# Output folders whose trials are stored under another experiment name.
FOLDER_EXPERIMENTS = {"reber-rnn": "demo-reber-rnn"}
