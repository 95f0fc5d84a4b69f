"""Measure a report's layout in a real browser (headless Chromium): row heights, tables that
stick out of the page without a scroll box, images shown wider than drawn.

:func:`measure_layout` copies the page next to itself with a small script that measures
the laid-out page on ``load`` and writes the numbers into the DOM as JSON, runs Chromium
``--headless --dump-dom`` on the copy and reads them back — the numbers come from the
browser's own layout, not from the HTML text.

Example (also ``python -m hiddenstruct.experiments.report_browser report.html``)::

    >>> found = measure_layout("demo-output/report.html", width=1280)
    >>> found["tallest_row_lines"], found["images_upscaled"], found["tables_overflowing"]
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
)  # fmt: skip

_SCRIPT = r"""
<script>
window.addEventListener("load", () => {
  const out = {rows: [], tables: [], images: [], page: {}};
  const view = document.documentElement.clientWidth;
  const probe = document.createElement("td");
  probe.textContent = "x";
  const t = document.createElement("table"), r = document.createElement("tr");
  r.appendChild(probe); t.appendChild(r); document.body.appendChild(t);
  const line = parseFloat(getComputedStyle(probe).lineHeight) || 16;
  const single = probe.getBoundingClientRect().height;
  t.remove();
  const scrolls = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === "auto" || o === "scroll") return a;
    }
    return null;
  };
  document.querySelectorAll("table").forEach((table, i) => {
    const box = table.getBoundingClientRect();
    const scroller = scrolls(table);
    const where = table.closest("section");
    const name = (where ? where.id : "") + "#" + i;
    out.tables.push({name, width: box.width, right: box.right, scroll_box: !!scroller,
      sticks_out: !scroller && box.right > view + 1,
      box_inside: scroller ? scroller.getBoundingClientRect().right <= view + 1 : true});
    table.querySelectorAll("tr").forEach((tr) => {
      const h = tr.getBoundingClientRect().height;
      out.rows.push({table: name, height: h, text: tr.textContent.slice(0, 60)});
    });
  });
  document.querySelectorAll("img").forEach((img) => {
    const shown = img.clientWidth * window.devicePixelRatio;  // the content box, no border
    out.images.push({alt: img.alt, shown, natural: img.naturalWidth,
      upscaled: shown > img.naturalWidth + 0.5});
  });
  out.page = {viewport: view, scroll_width: document.documentElement.scrollWidth,
    line_height: line, single_row: single};
  const pre = document.createElement("pre");
  pre.id = "layout-measurements";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def find_browser() -> str | None:
    """The path of a Chromium-like browser on PATH, or None."""
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


def _run(browser: str, args: list[str], timeout: float) -> str:
    with tempfile.TemporaryDirectory(prefix="hs-chromium-") as profile:
        done = subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{browser} failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def measure_layout(
    page: str | Path, width: int = 1280, browser: str | None = None, timeout: float = 180
) -> dict[str, Any]:
    """Lay ``page`` out at ``width`` CSS pixels in headless Chromium and measure it.

    Returns the raw measurements (``rows``, ``tables``, ``images``, ``page``) and a digest:
    ``tallest_row_px``, ``tallest_row_lines`` (in text lines of a table cell, after one
    line's padding), ``tallest_row`` (its table and text), ``tables_overflowing`` (tables
    wider than the page with no scroll box around them), ``images_upscaled`` (images shown
    wider than their pixel width) and ``page_overflow_px`` (horizontal overflow of the page).
    """
    browser = browser or find_browser()
    if browser is None:
        raise RuntimeError("no Chromium found on PATH (apt-get install -y chromium)")
    page = Path(page).resolve()
    text = page.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="hs-layout-") as tmp:
        copy = Path(tmp) / page.name
        copy.write_text(text.replace("</body>", _SCRIPT + "</body>", 1), encoding="utf-8")
        dom = _run(
            browser,
            [f"--window-size={width},1000", "--virtual-time-budget=10000", "--dump-dom",
             copy.as_uri()],
            timeout,
        )  # fmt: skip
    found = re.search(r'<pre id="layout-measurements">(.*?)</pre>', dom, re.S)
    if found is None:
        raise RuntimeError("the page's measuring script did not run (no measurements in the DOM)")

    data = json.loads(html.unescape(found.group(1)))
    rows = data["rows"]
    tallest = max(rows, key=lambda r: r["height"]) if rows else {"height": 0.0}
    pad = data["page"]["single_row"] - data["page"]["line_height"]
    lines = (tallest["height"] - pad) / data["page"]["line_height"]
    data.update(
        tallest_row_px=round(tallest["height"], 1),
        tallest_row_lines=round(lines, 2),
        tallest_row={k: tallest.get(k) for k in ("table", "text")},
        tables_overflowing=[t["name"] for t in data["tables"] if t["sticks_out"]],
        images_upscaled=[i["alt"] for i in data["images"] if i["upscaled"]],
        narrowest_image_px=min((i["natural"] for i in data["images"]), default=None),
        page_overflow_px=data["page"]["scroll_width"] - data["page"]["viewport"],
    )
    return data


def screenshot(page: str | Path, path: str | Path, width: int = 1400, height: int = 3000,
               browser: str | None = None, timeout: float = 180) -> Path:  # fmt: skip
    """A PNG of the top ``height`` pixels of ``page`` laid out at ``width``."""
    browser = browser or find_browser()
    if browser is None:
        raise RuntimeError("no Chromium found on PATH (apt-get install -y chromium)")
    path = Path(path).resolve()
    _run(browser, [f"--screenshot={path}", f"--window-size={width},{height}",
                   Path(page).resolve().as_uri()], timeout)  # fmt: skip
    return path


def main(argv: list[str] | None = None) -> int:
    """Print the digest of :func:`measure_layout` for each page (``--width`` px, default 1280)."""

    parser = argparse.ArgumentParser(prog="report_browser", allow_abbrev=False)
    parser.add_argument("pages", nargs="+")
    parser.add_argument("--width", type=int, action="append")
    args = parser.parse_args(argv)
    keys = ("tallest_row_px", "tallest_row_lines", "tallest_row", "tables_overflowing",
            "images_upscaled", "narrowest_image_px", "page_overflow_px")  # fmt: skip
    for page in args.pages:
        for width in args.width or [1280]:
            found = measure_layout(page, width)
            print(json.dumps({"page": page, "width": width, **{k: found[k] for k in keys}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
