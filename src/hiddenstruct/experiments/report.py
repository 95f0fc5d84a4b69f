"""A self-contained HTML report of an output folder: figures embedded, CSV tables inlined.

One section per experiment folder (each direct sub-folder of the input, files found
recursively), plus an overview section for files at the top level. PNG figures are embedded
as base64 (an SVG is used only when no PNG of the same name exists), CSV files become HTML
tables (first ``max_rows`` rows), small JSON files are shown as text. The page needs no network and no other file.

Example::

    >>> write_report("demo-output", "demo-output/report.html")
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from pathlib import Path

from hiddenstruct.errors import HiddenstructError, UsageError

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { border-bottom: 2px solid #444; } h2 { margin-top: 2em; border-bottom: 1px solid #aaa; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure img { max-width: 34em; border: 1px solid #ddd; }
figcaption, .note { font-size: 0.85em; color: #555; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th { background: #f2f2f2; } .wrap { overflow-x: auto; }
pre { background: #f7f7f7; padding: 0.5em; font-size: 0.8em; max-height: 30em; overflow: auto; }
"""


def _figure_html(path: Path, root: Path) -> str:
    mime = "image/png" if path.suffix.lower() == ".png" else "image/svg+xml"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = html.escape(str(path.relative_to(root)))
    return (
        f'<figure><img alt="{caption}" src="data:{mime};base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _table_html(path: Path, root: Path, max_rows: int) -> str:
    import pandas as pd

    caption = html.escape(str(path.relative_to(root)))
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        return f'<p class="note">{caption}: not a readable CSV table ({html.escape(str(err))})</p>'
    note = ""
    if len(frame) > max_rows:
        note = f" (first {max_rows} of {len(frame)} rows)"
        frame = frame.head(max_rows)
    table = frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0)
    return f'<h3>{caption}<span class="note">{note}</span></h3><div class="wrap">{table}</div>'


MAX_JSON_BYTES = 20_000


def _json_html(path: Path, root: Path) -> str:
    import json

    caption = html.escape(str(path.relative_to(root)))
    if path.stat().st_size > MAX_JSON_BYTES:
        return f'<p class="note">{caption}: {path.stat().st_size} bytes, too large to show</p>'
    try:
        text = json.dumps(json.loads(path.read_text(encoding="utf-8")), indent=2)
    except (ValueError, UnicodeDecodeError) as err:
        return f'<p class="note">{caption}: not readable JSON ({html.escape(str(err))})</p>'
    return f"<h3>{caption}</h3><pre>{html.escape(text)}</pre>"


def _section(title: str, files: list[Path], root: Path, max_rows: int) -> str:
    pngs = {p.with_suffix("") for p in files if p.suffix.lower() == ".png"}
    figures = [
        p
        for p in files
        if p.suffix.lower() == ".png"
        or (p.suffix.lower() == ".svg" and p.with_suffix("") not in pngs)
    ]
    tables = [p for p in files if p.suffix.lower() == ".csv"]
    documents = [p for p in files if p.suffix.lower() == ".json"]
    if not figures and not tables and not documents:
        return ""
    parts = [f"<section><h2>{html.escape(title)}</h2>"]
    parts += [_figure_html(p, root) for p in figures]
    parts += [_table_html(p, root, max_rows) for p in tables]
    parts += [_json_html(p, root) for p in documents]
    parts.append("</section>")
    return "\n".join(parts)


def _files(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(p for p in found if p.is_file() and not p.name.startswith("."))


def _section_folders(root: Path) -> list[Path]:
    """Sub-folders of ``root``: registered experiments first, in registry order, then the rest."""
    from hiddenstruct.experiments.registry import EXPERIMENTS

    order = {name: i for i, name in enumerate(EXPERIMENTS)}
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(folders, key=lambda p: (order.get(p.name, len(order)), p.name))


def build_report(
    input_dir: str | Path, title: str | None = None, max_rows: int = 200, store_summary=None
) -> str:
    """The HTML text of the report of ``input_dir`` (see the module docstring).

    ``store_summary``: optional DataFrame (e.g. trial counts per experiment) shown first.
    """
    root = Path(input_dir)
    if not root.is_dir():
        raise UsageError(
            f"report input {root} is not a folder; pass the output folder of an experiment with --input"
        )
    sections = [_section("overview", _files(root, recursive=False), root, max_rows)]
    for folder in _section_folders(root):
        sections.append(_section(folder.name, _files(folder, recursive=True), root, max_rows))
    sections = [s for s in sections if s]
    if not sections:
        raise HiddenstructError(
            f"nothing to report in {root}: no PNG/SVG figures or CSV tables found"
        )
    title = title or f"hiddenstruct report: {root.resolve().name}"
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = f'<h1>{html.escape(title)}</h1><p class="note">generated {stamp} from {html.escape(str(root))}</p>'
    if store_summary is not None and len(store_summary):
        head += (
            "<section><h2>trials</h2>" + store_summary.to_html(index=False, border=0) + "</section>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        + head
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file and a rename (no half-written file)."""
    from hiddenstruct.outputs import write_text

    return write_text(path, text)


def write_report(
    input_dir: str | Path, output: str | Path, title: str | None = None, store_summary=None
) -> Path:
    """Build the report of ``input_dir`` and write it atomically to ``output``."""
    return atomic_write_text(output, build_report(input_dir, title, store_summary=store_summary))
