"""Docs, code and tests cite only what a user of the repository has: the paper, docs/ pages,
the CHANGELOG, code — never our internal spec, style guide or issue tracker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ["README.md", "CHANGELOG.md", "docs", "src", "benchmarks", "scripts", "tests"]
SUFFIXES = {".md", ".py", ".sh", ".toml", ".txt"}

#: What a reader cannot follow. ``\s`` spans line breaks, so "issue\n25" in wrapped prose counts.
FORBIDDEN = re.compile(
    r"DESIGN(?:\.md)?\s*§|DESIGN\.md|STYLE\.md|STYLE habit"
    r"|(?i:\bissues?\s+#?\d+)"
    r"|(?i:\bthe issue(?:'s\b|\s+(?:asks|asked|quotes|says)\b))"
)


def scanned_files() -> list[Path]:
    files = []
    for name in SCANNED:
        path = ROOT / name
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        files += [f for f in candidates if f.is_file() and f.suffix in SUFFIXES]
    return [f for f in files if f.resolve() != Path(__file__).resolve()]


def citations(text: str) -> list[tuple[int, str]]:
    """(line number, matched text) of every forbidden citation in ``text``."""
    return [
        (text.count("\n", 0, match.start()) + 1, " ".join(match.group().split()))
        for match in FORBIDDEN.finditer(text)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "the properties of DESIGN §6",
        "see DESIGN.md",
        "(STYLE habit 4)",
        "since issue 25",
        "Issue 13 items 5-7",
        "issues 16 and 28",
        "as in issue #7",
        "sparse-routes too since issue\n25)",
        "the issue's rule",
        "as the issue asked",
    ],
)
def test_the_pattern_catches_internal_citations(text):
    assert citations(text), text


@pytest.mark.parametrize(
    "text",
    [
        "the paper's Table 1 (§4.3)",
        "since 0.2.0 (CHANGELOG.md)",
        "docs/reliability.md",
        "an issue with the shapes",
        "the design of the store",
    ],
)
def test_the_pattern_leaves_ordinary_prose(text):
    assert not citations(text), text


def test_no_internal_citations_in_the_repository():
    files = scanned_files()
    assert any(f.name == "README.md" for f in files) and any(f.suffix == ".py" for f in files)
    found = [
        f"{f.relative_to(ROOT)}:{line}: {cited!r}"
        for f in files
        for line, cited in citations(f.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not found, (
        "cite the paper, a docs/ page, the CHANGELOG or code instead of:\n" + "\n".join(found)
    )
