"""``hiddenstruct report``: one self-contained HTML page of the experiments' outputs.

Sections follow the paper (§4.1 prune-ffn → §4.2 prune-rnn → §4.3 priors-rnn → §4.4 nas;
see :data:`~hiddenstruct.experiments.report_sections.REPORT_SECTIONS`), each from the
sub-folder named after its experiment, then any other folders. A page has a table of
contents; per section the paper's claims next to this run's key numbers, the figures at
full width (PNG embedded as base64; an SVG only when there is no PNG twin), tables cut to
their first rows with a link to the full CSV, JSON summaries as key/value tables, and the
resolved config (from the trial store, when given), seeds and versions.

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

from hiddenstruct.errors import HiddenstructError, UsageError
from hiddenstruct.experiments.report_sections import (
    FOLDER_EXPERIMENTS,
    REPORT_SECTIONS,
    SectionSpec,
    Summary,
)

MAX_ROWS = 10
MAX_JSON_BYTES = 200_000

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 78em; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #444; } h2 { margin-top: 2.5em; border-bottom: 1px solid #aaa; }
nav ol { columns: 2; } figure { margin: 1.2em 0; }
figure img { width: 100%; height: auto; border: 1px solid #ddd; }
figcaption, .note { font-size: 0.85em; color: #555; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
.wrap { overflow-x: auto; } .claims { background: #f6f8fa; padding: 0.6em 1em; }
details { margin: 0.6em 0; } summary { cursor: pointer; font-weight: 600; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def versions() -> dict[str, str]:
    """Package, torch and Python versions and the git commit of the sources (when known)."""
    import torch

    import hiddenstruct

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


def _kv_table(items: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in items.items())
    return f'<div class="wrap"><table>{rows}</table></div>'


def _frame_html(frame) -> str:
    return frame.to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}", na_rep="n/a")


def _figure_html(path: Path, root: Path) -> str:
    mime = "image/png" if path.suffix.lower() == ".png" else "image/svg+xml"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = _esc(path.relative_to(root))
    return (
        f'<figure><img alt="{name}" src="data:{mime};base64,{data}">'
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
        f'<div class="wrap">{_frame_html(frame.head(max_rows))}</div>'
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
    claims = "".join(f"<li>{_esc(c)}</li>" for c in summary.paper_claims)
    parts = [f'<div class="claims"><b>The paper:</b><ul>{claims}</ul></div>'] if claims else []
    if summary.key_numbers is not None and len(summary.key_numbers):
        parts.append(f'<h4>This run</h4><div class="wrap">{_frame_html(summary.key_numbers)}</div>')
    parts += [f'<p class="note">{_esc(n)}</p>' for n in summary.notes]
    return "\n".join(parts)


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
    parts = [f'<section id="{_esc(anchor)}"><h2>{_esc(heading)}</h2>']
    if spec is not None:
        parts.append(_summary_html(spec.summarize(folder)))
    if not files:
        parts.append(f'<p class="note">no outputs found in {_esc(folder)}</p>')
    parts += [_figure_html(p, root) for p in figures]
    if tables:
        parts.append("<h3>Tables</h3>")
        parts += [_table_html(p, root, link_base, max_rows) for p in tables]
    parts += [_json_html(p, root) for p in documents]
    experiment = spec.experiment if spec else FOLDER_EXPERIMENTS.get(anchor, anchor)
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
    entries = [
        (name, spec.heading, spec) for name, spec in REPORT_SECTIONS.items() if name in folders
    ]
    entries += [
        (name, f"Other outputs: {name}", None)
        for name in sorted(folders)
        if name not in REPORT_SECTIONS
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
    from hiddenstruct.outputs import write_text

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
