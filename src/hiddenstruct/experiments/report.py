"""``hiddenstruct report``: one self-contained HTML page of the experiments' outputs.

Sections follow the paper (§4.1 prune-ffn → §4.2 prune-rnn → §4.3 priors-rnn → §4.4 nas;
each registered experiment's ``report_section``, in the registry's order), each from the
sub-folder named after its experiment, then any other folders. A page has a table of
contents; per section a banner when the run is not at the paper's scale (from the trial
store, :mod:`.report_scale`), the paper's claims each with this run's number and a verdict
(:mod:`.report_sections`), the key numbers, the figures (PNG embedded as base64, never shown
wider than drawn; an SVG only when there is no PNG twin), tables cut to their first rows with
a link to the full CSV (long text columns as numbered notes under the table, the first
column kept in view while a wide table scrolls in its own box), JSON summaries as key/value
tables, and the resolved config (from the trial store, when given), seeds and versions.

Example::

    >>> write_report("demo-output", "demo-output/report.html", store="runs/demo.sqlite")
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import os
import platform
import stat
import subprocess
from pathlib import Path
from typing import Any

import hiddenstruct
from hiddenstruct.errors import HiddenstructError, UsageError
from hiddenstruct.experiments.registry import EXPERIMENTS
from hiddenstruct.experiments.report_scale import differences
from hiddenstruct.experiments.report_sections import FOLDER_EXPERIMENTS, SectionSpec, Summary
from hiddenstruct.outputs import write_text

MAX_ROWS = 10
#: Key/value tables (JSON summaries, configs) show at most this many rows.
MAX_KV_ROWS = 40
MAX_JSON_BYTES = 200_000
#: A text column whose longest entry is longer than this moves under its table as notes.
MAX_CELL_CHARS = 40
#: Longer key/value cells are cut (the full text stays in the cell's tooltip).
MAX_VALUE_CHARS = 120

_STYLE = """
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


def _esc(value: Any) -> str:
    return html.escape(str(value))


def versions() -> dict[str, str]:
    """Package, torch and Python versions and the git commit of the sources (when known)."""
    import torch

    found = {
        "hiddenstruct": hiddenstruct.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    source = Path(hiddenstruct.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = ""
    found["git commit"] = commit or "unknown (not a git checkout)"
    return found


def _kv_table(items: dict[str, Any], max_rows: int = MAX_KV_ROWS) -> str:
    shown = list(items.items())[:max_rows]
    rows = "".join(f"<tr><th>{_esc(k)}</th>{_value_cell(v)}</tr>" for k, v in shown)
    more = (
        f'<p class="note">first {max_rows} of {len(items)} entries shown</p>'
        if len(items) > max_rows
        else ""
    )
    return f'<div class="wrap"><table>{rows}</table></div>{more}'


def _value_cell(value: Any) -> str:
    text = str(value)
    if len(text) <= MAX_CELL_CHARS:
        return f"<td>{_esc(text)}</td>"
    cut = text if len(text) <= MAX_VALUE_CHARS else f"{text[: MAX_VALUE_CHARS - 1]}…"
    return f'<td class="text" title="{_esc(text)}">{_esc(cut)}</td>'


def _number(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.4g}"
    return "n/a" if value is None else str(value)


def _frame_html(frame) -> str:
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
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for column in frame.columns:
            value = row[column]
            if column in long_columns and isinstance(value, str) and value:
                number = notes.setdefault(value, len(notes) + 1)
                cells.append(f'<td title="{_esc(value)}">[{number}]</td>')
            elif not isinstance(value, str) and pd.isna(value):
                # an empty text cell is empty; a missing number is "n/a"
                cells.append("<td></td>" if column in text_columns else "<td>n/a</td>")
            else:
                cells.append(f"<td>{_esc(_number(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    table = f'<div class="wrap"><table><tr>{head}</tr>{"".join(body)}</table></div>'
    if notes:
        items = "".join(f"<li>{_esc(text)}</li>" for text in notes)
        where = ", ".join(long_columns)
        table += (
            f'<p class="note cellnotes-head">[n] in column {_esc(where)}:</p>'
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


def _figure_html(path: Path, root: Path) -> str:
    mime = "image/png" if path.suffix.lower() == ".png" else "image/svg+xml"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = _esc(path.relative_to(root))
    size = png_size(path) if mime == "image/png" else None
    # never shown wider than drawn: width = the PNG's own width, scaled down to fit only
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    return (
        f'<figure><img alt="{name}"{dims} src="data:{mime};base64,{data}">'
        f"<figcaption>{name}</figcaption></figure>"
    )


def _table_html(path: Path, root: Path, link_base: Path, max_rows: int) -> str:
    import pandas as pd

    name = _esc(path.relative_to(root))
    href = _esc(Path(os.path.relpath(path.resolve(), link_base.resolve())).as_posix())
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        return f'<p class="note">{name}: not a readable CSV table ({_esc(err)})</p>'
    shown = (
        f"first {max_rows} of {len(frame)} rows" if len(frame) > max_rows else f"{len(frame)} rows"
    )
    return (
        f'<h4>{name} <span class="note">({shown}; <a href="{href}">full CSV</a>)</span></h4>'
        f"{_frame_html(frame.head(max_rows))}"
    )


def _flatten(value: Any, prefix: str = "", depth: int = 2) -> dict[str, Any]:
    if isinstance(value, dict) and depth > 0:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}.", depth - 1))
        return out
    if isinstance(value, (list, tuple)):
        text = ", ".join(map(str, value))
        value = text if len(text) <= 120 else f"{text[:117]}…"
    elif isinstance(value, float):
        value = f"{value:.4g}"
    elif isinstance(value, dict):
        value = f"({len(value)} entries)"
    return {prefix.rstrip("."): value}


def _json_html(path: Path, root: Path) -> str:
    name = _esc(path.relative_to(root))
    if path.stat().st_size > MAX_JSON_BYTES:
        return f'<p class="note">{name}: {path.stat().st_size} bytes, not shown</p>'
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        return f'<p class="note">{name}: not readable JSON ({_esc(err)})</p>'
    if not isinstance(data, dict):
        data = {"value": data}
    return f"<details><summary>{name}</summary>{_kv_table(_flatten(data))}</details>"


def _summary_html(summary: Summary) -> str:
    claims = "".join(
        f'<li><span class="verdict {_esc(c.verdict.replace(" ", "-"))}">{_esc(c.verdict)}</span> '
        f"{_esc(c.claim)} <b>Paper:</b> {_esc(c.paper)}. <b>This run:</b> {_esc(c.ours)}."
        + (f' <span class="note">({_esc(c.reason)})</span>' if c.reason else "")
        + "</li>"
        for c in summary.claims
    )
    parts = [
        f'<div class="claims"><b>The paper\'s claims, with this run\'s numbers and a verdict:</b>'
        f"<ul>{claims}</ul></div>"
    ] if claims else []  # fmt: skip
    numbers = summary.key_numbers
    if numbers is not None and len(numbers):
        parts.append(f"<h4>This run</h4>{_frame_html(numbers.head(MAX_KV_ROWS))}")
        if len(numbers) > MAX_KV_ROWS:
            parts.append(
                f'<p class="note">first {MAX_KV_ROWS} of {len(numbers)} rows; the tables '
                "below link the full CSVs</p>"
            )
    parts += [f'<p class="note">{_esc(n)}</p>' for n in summary.notes]
    return "\n".join(parts)


def scale_banner(experiment: str, store) -> str:
    """The banner naming this run's scale against ``--preset paper`` (empty at paper scale
    or for experiments without a paper preset)."""

    if experiment not in EXPERIMENTS or not EXPERIMENTS[experiment].paper_scale:
        return ""
    where = " Paper-scale numbers: docs/reproduction.md."
    if store is None:
        return (
            f'<div class="banner"><b>Scale unknown</b> (no --store given): these numbers may '
            f"come from a toy run, not the paper's scale.{where}</div>"
        )
    found = differences(experiment, store)
    if found is None:
        return f'<div class="banner"><b>Scale unknown</b>: no {_esc(experiment)} trials in the store.{where}</div>'
    if not found:
        return ""
    items = " · ".join(
        f"{_esc(label)} {_esc(ours)} (paper preset: {_esc(paper)})" for label, ours, paper in found
    )
    return (
        f'<div class="banner"><b>Not the paper\'s scale.</b> This run: {items}. The numbers '
        f"and verdicts below are at this run's scale; a toy run can agree or disagree by "
        f"chance.{where}</div>"
    )


def config_summary(store, experiment: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(settings shared by all trials, per trial-varying key its distinct values) from the store."""
    trials = store.trials(experiment)
    if not trials:
        return None
    values: dict[str, set[str]] = {}
    for t in trials:
        for key, value in t.config.items():
            values.setdefault(key, set()).add(json.dumps(value, sort_keys=True, default=str))
    shared = {k: json.loads(next(iter(v))) for k, v in values.items() if len(v) == 1}
    varying = {
        k: "; ".join(_cell(json.loads(x)) for x in sorted(v, key=lambda s: (len(s), s)))
        for k, v in values.items()
        if len(v) > 1
    }
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    varying["trials"] = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return {k: _cell(v) for k, v in shared.items()}, varying


def _cell(value: Any) -> str:
    return str(_flatten(value, depth=0)[""])


def scan_inputs(root: str | Path) -> tuple[list[Path], list[Path]]:
    """``(files, skipped)`` under ``root``: the regular files the report may read, and what it
    will not read — symbolic links at any depth (to files or folders; one to / would scan the
    whole disk, one to a password file would embed it in a page people share), FIFOs, sockets,
    devices, and anything whose real path is outside ``root``. Hidden and unreadable entries are
    left out silently."""
    root = Path(root)
    real_root = root.resolve()
    files: list[Path] = []
    skipped: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda err: None):
        here = Path(dirpath)
        keep = []
        for name in dirnames:
            if name.startswith("."):
                continue
            if (here / name).is_symlink():
                skipped.append(here / name)
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in filenames:
            if name.startswith("."):
                continue
            path = here / name
            try:
                mode = path.lstat().st_mode
            except OSError:
                continue
            inside = path.resolve().is_relative_to(real_root)
            (files if stat.S_ISREG(mode) and inside else skipped).append(path)
    return sorted(files), sorted(skipped)


def _files(folder: Path) -> list[Path]:
    """Regular files under ``folder`` (see :func:`scan_inputs`)."""
    return scan_inputs(folder)[0]


def _ordered(files: list[Path], patterns: tuple[str, ...]) -> list[Path]:
    first = [p for pattern in patterns for p in files if p.match(pattern)]
    first = list(dict.fromkeys(first))
    return first + [p for p in files if p not in first]


def section_html(
    anchor: str, heading: str, folder: Path, root: Path, link_base: Path, *,
    spec: SectionSpec | None = None, store=None, max_rows: int = MAX_ROWS,
    env: dict[str, str] | None = None,
) -> str:  # fmt: skip
    """One ``<section>``: summary, figures, tables, JSON summaries, config and versions."""
    files = _files(folder) if folder.is_dir() else []
    pngs = {p.with_suffix("") for p in files if p.suffix.lower() == ".png"}
    figures = [p for p in files if p.suffix.lower() == ".png"]
    figures += [p for p in files if p.suffix.lower() == ".svg" and p.with_suffix("") not in pngs]
    tables = [p for p in files if p.suffix.lower() == ".csv"]
    documents = [p for p in files if p.suffix.lower() == ".json"]
    if spec is not None:
        figures, tables = _ordered(figures, spec.figures), _ordered(tables, spec.tables)
    experiment = spec.experiment if spec else FOLDER_EXPERIMENTS.get(anchor, anchor)
    parts = [f'<section id="{_esc(anchor)}"><h2>{_esc(heading)}</h2>']
    parts.append(scale_banner(experiment, store))
    if spec is not None:
        parts.append(_summary_html(spec.summarize(folder)))
    if not files:
        parts.append(f'<p class="note">no outputs found in {_esc(folder)}</p>')
    parts += [_figure_html(p, root) for p in figures]
    if tables:
        parts.append("<h3>Tables</h3>")
        parts += [_table_html(p, root, link_base, max_rows) for p in tables]
    parts += [_json_html(p, root) for p in documents]
    parts.append(_config_html(experiment, store, env or {}))
    parts.append("</section>")
    return "\n".join(parts)


def _config_html(experiment: str, store, env: dict[str, str]) -> str:
    parts = ["<details><summary>Resolved config, seeds and versions</summary>"]
    found = config_summary(store, experiment) if store is not None else None
    if found is None:
        reason = "no --store given" if store is None else f"no {experiment} trials in the store"
        parts.append(f'<p class="note">config: {_esc(reason)}</p>')
    else:
        shared, varying = found
        parts.append("<h4>Varying across trials (seeds included)</h4>" + _kv_table(varying))
        parts.append("<h4>Shared by all trials</h4>" + _kv_table(shared))
    parts.append("<h4>Versions (this report)</h4>" + _kv_table(env))
    parts.append("</details>")
    return "\n".join(parts)


def report_sections() -> dict[str, SectionSpec]:
    """Experiment name → its report section, in the registry's order (experiments without one
    are shown as other outputs)."""
    return {name: e.report_section for name, e in EXPERIMENTS.items() if e.report_section}


def build_report(
    input_dir: str | Path, title: str | None = None, max_rows: int = MAX_ROWS,
    store_summary=None, store=None, link_base: str | Path | None = None,
) -> str:  # fmt: skip
    """The HTML text of the report of ``input_dir`` (see the module docstring).

    ``store``: a :class:`TrialStore` for resolved configs; ``store_summary``: optional
    DataFrame shown first (trial counts); ``link_base``: the folder the page will be written
    to (CSV links are relative to it; default ``input_dir``).
    """
    root = Path(input_dir)
    if not root.is_dir():
        raise UsageError(
            f"report input {root} is not a folder; pass the output folder of an experiment with --input"
        )
    link_base = Path(link_base) if link_base is not None else root
    env = versions()
    folders = {
        p.name: p
        for p in root.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
    }
    sections = report_sections()
    entries = [(name, spec.heading, spec) for name, spec in sections.items() if name in folders]
    entries += [
        (name, f"Other outputs: {name}", None) for name in sorted(folders) if name not in sections
    ]
    if not entries and not any(p.parent == root for p in _files(root)):
        raise HiddenstructError(
            f"nothing to report in {root}: no experiment folders or files found"
        )
    options = dict(store=store, max_rows=max_rows, env=env)
    sections = [
        section_html(name, heading, folders[name], root, link_base, spec=spec, **options)
        for name, heading, spec in entries
    ]
    top = [
        p
        for p in _files(root)
        if p.parent == root and p.suffix.lower() in (".png", ".svg", ".csv", ".json")
    ]
    if top:
        entries.append(("overview", "Files at the top level", None))
        sections.append(_top_level(root, link_base, top, max_rows))
    title = title or f"hiddenstruct report: {root.resolve().name}"
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    toc = "".join(f'<li><a href="#{_esc(a)}">{_esc(h)}</a></li>' for a, h, _ in entries)
    head = (
        f'<h1>{_esc(title)}</h1><p class="note">generated {stamp} from {_esc(root)} · '
        + " · ".join(f"{_esc(k)} {_esc(v)}" for k, v in env.items())
        + f"</p><nav><h2>Contents</h2><ol>{toc}</ol></nav>"
    )
    if store_summary is not None and len(store_summary):
        head += f'<section id="trials"><h2>Trials in the store</h2>{_frame_html(store_summary)}</section>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{_STYLE}</style></head><body>\n"
        + head + "\n" + "\n".join(sections) + "\n</body></html>\n"
    )  # fmt: skip


def _top_level(root: Path, link_base: Path, files: list[Path], max_rows: int) -> str:
    parts = ['<section id="overview"><h2>Files at the top level</h2>']
    parts += [_figure_html(p, root) for p in sorted(files) if p.suffix.lower() == ".png"]
    parts += [
        _table_html(p, root, link_base, max_rows)
        for p in sorted(files)
        if p.suffix.lower() == ".csv"
    ]
    parts += [_json_html(p, root) for p in sorted(files) if p.suffix.lower() == ".json"]
    return "\n".join(parts + ["</section>"])


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file and a rename (no half-written file)."""

    return write_text(path, text)


def write_report(
    input_dir: str | Path, output: str | Path, title: str | None = None,
    store_summary=None, store=None,
) -> Path:  # fmt: skip
    """Build the report of ``input_dir`` and write it atomically to ``output``."""
    output = Path(output)
    page = build_report(
        input_dir, title, store_summary=store_summary, store=store, link_base=output.parent
    )
    return atomic_write_text(output, page)
