"""``hiddenstruct report``: one self-contained HTML page of the experiments' outputs.

Sections follow the paper (§4.1 prune-ffn → §4.2 prune-rnn → §4.3 priors-rnn → §4.4 nas;
each registered experiment's ``report_section``, in the registry's order), each from the
sub-folder named after its experiment, then any other folders. A page has a table of
contents; per section a banner when the run is not at the paper's scale (from the trial
store, :mod:`.report_scale`), the paper's claims each with this run's number and a verdict
(:mod:`.report_sections`), the key numbers (the HTML blocks: :mod:`.report_html`), the figures (PNG embedded as base64, never shown
wider than drawn; an SVG only when there is no PNG twin), tables cut to their first rows with
a link to the full CSV (long text columns as numbered notes under the table, the first
column kept in view while a wide table scrolls in its own box), JSON summaries as key/value
tables, and the resolved config (from the trial store, when given), seeds and versions.

Example::

    >>> write_report("demo-output", "demo-output/report.html", store="runs/demo.sqlite")
"""

from __future__ import annotations

import datetime as dt
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
from hiddenstruct.experiments.report_html import (
    MAX_ROWS,
    STYLE,
    cell_text,
    esc,
    figure_html,
    frame_html,
    json_html,
    kv_table,
    summary_html,
    table_html,
)
from hiddenstruct.experiments.report_scale import differences
from hiddenstruct.experiments.report_sections import FOLDER_EXPERIMENTS, SectionSpec
from hiddenstruct.outputs import write_text


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
        return f'<div class="banner"><b>Scale unknown</b>: no {esc(experiment)} trials in the store.{where}</div>'
    if not found:
        return ""
    items = " · ".join(
        f"{esc(label)} {esc(ours)} (paper preset: {esc(paper)})" for label, ours, paper in found
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
        k: "; ".join(cell_text(json.loads(x)) for x in sorted(v, key=lambda s: (len(s), s)))
        for k, v in values.items()
        if len(v) > 1
    }
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    varying["trials"] = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return {k: cell_text(v) for k, v in shared.items()}, varying


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
    parts = [f'<section id="{esc(anchor)}"><h2>{esc(heading)}</h2>']
    parts.append(scale_banner(experiment, store))
    if spec is not None:
        parts.append(summary_html(spec.summarize(folder)))
    if not files:
        parts.append(f'<p class="note">no outputs found in {esc(folder)}</p>')
    parts += [figure_html(p, root) for p in figures]
    if tables:
        parts.append("<h3>Tables</h3>")
        parts += [table_html(p, root, link_base, max_rows) for p in tables]
    parts += [json_html(p, root) for p in documents]
    parts.append(_config_html(experiment, store, env or {}))
    parts.append("</section>")
    return "\n".join(parts)


def _config_html(experiment: str, store, env: dict[str, str]) -> str:
    parts = ["<details><summary>Resolved config, seeds and versions</summary>"]
    found = config_summary(store, experiment) if store is not None else None
    if found is None:
        reason = "no --store given" if store is None else f"no {experiment} trials in the store"
        parts.append(f'<p class="note">config: {esc(reason)}</p>')
    else:
        shared, varying = found
        parts.append("<h4>Varying across trials (seeds included)</h4>" + kv_table(varying))
        parts.append("<h4>Shared by all trials</h4>" + kv_table(shared))
    parts.append("<h4>Versions (this report)</h4>" + kv_table(env))
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
    toc = "".join(f'<li><a href="#{esc(a)}">{esc(h)}</a></li>' for a, h, _ in entries)
    head = (
        f'<h1>{esc(title)}</h1><p class="note">generated {stamp} from {esc(root)} · '
        + " · ".join(f"{esc(k)} {esc(v)}" for k, v in env.items())
        + f"</p><nav><h2>Contents</h2><ol>{toc}</ol></nav>"
    )
    if store_summary is not None and len(store_summary):
        head += f'<section id="trials"><h2>Trials in the store</h2>{frame_html(store_summary)}</section>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>\n"
        + head + "\n" + "\n".join(sections) + "\n</body></html>\n"
    )  # fmt: skip


def _top_level(root: Path, link_base: Path, files: list[Path], max_rows: int) -> str:
    parts = ['<section id="overview"><h2>Files at the top level</h2>']
    parts += [figure_html(p, root) for p in sorted(files) if p.suffix.lower() == ".png"]
    parts += [
        table_html(p, root, link_base, max_rows)
        for p in sorted(files)
        if p.suffix.lower() == ".csv"
    ]
    parts += [json_html(p, root) for p in sorted(files) if p.suffix.lower() == ".json"]
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
