"""The HTML blocks of ``hiddenstruct report``, one per kind of output: a CSV table (cut to its
first rows, long text as numbered notes, the first column kept in view), a figure (PNG embedded
as base64, never wider than drawn), a JSON summary as a key/value table, and a section's claims
with their verdicts; plus the page's style sheet. :mod:`.report` assembles them into a page.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

from hiddenstruct.experiments.report_sections import Summary

MAX_ROWS = 10
#: Key/value tables (JSON summaries, configs) show at most this many rows.
MAX_KV_ROWS = 40
MAX_JSON_BYTES = 200_000
#: A text column whose longest entry is longer than this moves under its table as notes.
MAX_CELL_CHARS = 40
#: Longer key/value cells are cut (the full text stays in the cell's tooltip).
MAX_VALUE_CHARS = 120

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 80em; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #444; } h2 { margin-top: 2.5em; border-bottom: 1px solid #aaa; }
nav ol { columns: 2; } figure { margin: 1.2em 0; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption, .note { font-size: 0.85em; color: #555; }
table { border-collapse: separate; border-spacing: 0; font-size: 0.85em; margin: 0; }
th, td { border-right: 1px solid #ccc; border-bottom: 1px solid #ccc; padding: 0.2em 0.5em;
         text-align: right; white-space: nowrap; background: #fff; }
tr > :first-child { border-left: 1px solid #ccc; } tr:first-child > * { border-top: 1px solid #ccc; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
tr > :first-child { position: sticky; left: 0; z-index: 1; box-shadow: 1px 0 0 #ccc; }
td.text { white-space: normal; min-width: 12em; max-width: 36em; text-align: left; }
.wrap { overflow-x: auto; max-width: 100%; margin: 0.5em 0 1em; }
ol.cellnotes { font-size: 0.8em; color: #444; margin: 0 0 1em; }
.cellnotes-head { margin: -0.6em 0 0; }
.claims { background: #f6f8fa; padding: 0.6em 1em; } .claims li { margin: 0.3em 0; }
.verdict { display: inline-block; min-width: 7.5em; padding: 0 0.4em; border-radius: 3px;
           font-size: 0.85em; font-weight: 600; text-align: center; }
.verdict.agrees { background: #d8f0dc; } .verdict.disagrees { background: #f8d7d5; }
.verdict.not-comparable { background: #eee; }
.banner { background: #fff4d6; border-left: 4px solid #e0a800; padding: 0.5em 1em; }
details { margin: 0.6em 0; } summary { cursor: pointer; font-weight: 600; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value))


def kv_table(items: dict[str, Any], max_rows: int = MAX_KV_ROWS) -> str:
    shown = list(items.items())[:max_rows]
    rows = "".join(f"<tr><th>{esc(k)}</th>{value_cell(v)}</tr>" for k, v in shown)
    more = (
        f'<p class="note">first {max_rows} of {len(items)} entries shown</p>'
        if len(items) > max_rows
        else ""
    )
    return f'<div class="wrap"><table>{rows}</table></div>{more}'


def value_cell(value: Any) -> str:
    text = str(value)
    if len(text) <= MAX_CELL_CHARS:
        return f"<td>{esc(text)}</td>"
    cut = text if len(text) <= MAX_VALUE_CHARS else f"{text[: MAX_VALUE_CHARS - 1]}…"
    return f'<td class="text" title="{esc(text)}">{esc(cut)}</td>'


def format_number(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.4g}"
    return "n/a" if value is None else str(value)


def frame_html(frame) -> str:
    """A table of ``frame`` in its own scroll box; text columns with entries longer than
    :data:`MAX_CELL_CHARS` become numbered notes under it (so no row grows tall and the
    numbers keep their width); the first column stays in view while the box scrolls."""
    import pandas as pd

    def length(value: Any) -> int:
        return len(value) if isinstance(value, str) else 0

    long_columns = [
        c for c in frame.columns if len(frame) and frame[c].map(length).max() > MAX_CELL_CHARS
    ]
    text_columns = {
        c
        for c in frame.columns
        if str(c).lower() in ("note", "notes") or frame[c].map(lambda v: isinstance(v, str)).any()
    }
    notes: dict[str, int] = {}
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for column in frame.columns:
            value = row[column]
            if column in long_columns and isinstance(value, str) and value:
                number = notes.setdefault(value, len(notes) + 1)
                cells.append(f'<td title="{esc(value)}">[{number}]</td>')
            elif not isinstance(value, str) and pd.isna(value):
                # an empty text cell is empty; a missing number is "n/a"
                cells.append("<td></td>" if column in text_columns else "<td>n/a</td>")
            else:
                cells.append(f"<td>{esc(format_number(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    table = f'<div class="wrap"><table><tr>{head}</tr>{"".join(body)}</table></div>'
    if notes:
        items = "".join(f"<li>{esc(text)}</li>" for text in notes)
        where = ", ".join(long_columns)
        table += (
            f'<p class="note cellnotes-head">[n] in column {esc(where)}:</p>'
            f'<ol class="cellnotes">{items}</ol>'
        )
    return table


def png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) in pixels from a PNG's header; None when it is not a PNG."""
    with path.open("rb") as handle:
        header = handle.read(24)
    if len(header) < 24 or header[:8] != b"\x89PNG\r\n\x1a\n" or header[12:16] != b"IHDR":
        return None
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def figure_html(path: Path, root: Path) -> str:
    mime = "image/png" if path.suffix.lower() == ".png" else "image/svg+xml"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = esc(path.relative_to(root))
    size = png_size(path) if mime == "image/png" else None
    # never shown wider than drawn: width = the PNG's own width, scaled down to fit only
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    return (
        f'<figure><img alt="{name}"{dims} src="data:{mime};base64,{data}">'
        f"<figcaption>{name}</figcaption></figure>"
    )


def table_html(path: Path, root: Path, link_base: Path, max_rows: int) -> str:
    import pandas as pd

    name = esc(path.relative_to(root))
    href = esc(Path(os.path.relpath(path.resolve(), link_base.resolve())).as_posix())
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        return f'<p class="note">{name}: not a readable CSV table ({esc(err)})</p>'
    shown = (
        f"first {max_rows} of {len(frame)} rows" if len(frame) > max_rows else f"{len(frame)} rows"
    )
    return (
        f'<h4>{name} <span class="note">({shown}; <a href="{href}">full CSV</a>)</span></h4>'
        f"{frame_html(frame.head(max_rows))}"
    )


def flatten(value: Any, prefix: str = "", depth: int = 2) -> dict[str, Any]:
    if isinstance(value, dict) and depth > 0:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}{k}.", depth - 1))
        return out
    if isinstance(value, (list, tuple)):
        text = ", ".join(map(str, value))
        value = text if len(text) <= 120 else f"{text[:117]}…"
    elif isinstance(value, float):
        value = f"{value:.4g}"
    elif isinstance(value, dict):
        value = f"({len(value)} entries)"
    return {prefix.rstrip("."): value}


def json_html(path: Path, root: Path) -> str:
    name = esc(path.relative_to(root))
    if path.stat().st_size > MAX_JSON_BYTES:
        return f'<p class="note">{name}: {path.stat().st_size} bytes, not shown</p>'
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        return f'<p class="note">{name}: not readable JSON ({esc(err)})</p>'
    if not isinstance(data, dict):
        data = {"value": data}
    return f"<details><summary>{name}</summary>{kv_table(flatten(data))}</details>"


def summary_html(summary: Summary) -> str:
    claims = "".join(
        f'<li><span class="verdict {esc(c.verdict.replace(" ", "-"))}">{esc(c.verdict)}</span> '
        f"{esc(c.claim)} <b>Paper:</b> {esc(c.paper)}. <b>This run:</b> {esc(c.ours)}."
        + (f' <span class="note">({esc(c.reason)})</span>' if c.reason else "")
        + "</li>"
        for c in summary.claims
    )
    parts = [
        f'<div class="claims"><b>The paper\'s claims, with this run\'s numbers and a verdict:</b>'
        f"<ul>{claims}</ul></div>"
    ] if claims else []  # fmt: skip
    numbers = summary.key_numbers
    if numbers is not None and len(numbers):
        parts.append(f"<h4>This run</h4>{frame_html(numbers.head(MAX_KV_ROWS))}")
        if len(numbers) > MAX_KV_ROWS:
            parts.append(
                f'<p class="note">first {MAX_KV_ROWS} of {len(numbers)} rows; the tables '
                "below link the full CSVs</p>"
            )
    parts += [f'<p class="note">{esc(n)}</p>' for n in summary.notes]
    return "\n".join(parts)


def cell_text(value: Any) -> str:
    return str(flatten(value, depth=0)[""])
