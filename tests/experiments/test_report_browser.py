"""The report in a real browser: headless Chromium lays the page out and a script on the
page measures it (row heights, tables sticking out without a scroll box, images shown wider
than drawn). Skipped without Chromium, except in CI (``CI=true``), where it must run."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from hiddenstruct.experiments.figures import new_figure, save_figure, styled
from hiddenstruct.experiments.prune_ffn.figures import figure2a
from hiddenstruct.experiments.report import write_report
from hiddenstruct.experiments.report_browser import find_browser, measure_layout

#: A row may hold about three lines of text (our limit), with some slack for fonts.
MAX_ROW_LINES = 3.5


@pytest.fixture(scope="module")
def browser():
    found = find_browser()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "CI=true but no Chromium on PATH: .ci/run installs it (apt-get install -y chromium)"
            )
        pytest.skip("no Chromium on PATH (apt-get install -y chromium); CI runs this test")
    return found


def _hard_page(root):
    """Outputs that broke the old layout: a long notes column, a 30-column table, a small PNG."""
    ffn = root / "prune-ffn"
    ffn.mkdir(parents=True)
    note = "@50%: one repeat: std undefined; @60%: one repeat: std undefined; " * 3
    wide = {f"acc@{p}%": np.linspace(0.1, 0.9, 12) for p in range(5, 100, 4)}
    table = pd.DataFrame(
        {"architecture": "300-100", "schedule": "relative", "method": "class_blinded",
         "retrain": [False, True] * 6, "unpruned": 0.97, **wide, "notes": note}
    )  # fmt: skip
    table.to_csv(ffn / "table.csv", index=False)
    curves = pd.DataFrame(
        [dict(architecture="100", method=m, schedule="relative", retrain=False, repeat=0,
              zero_fraction=z, accuracy=0.9 - z / 2)
         for m in ("random", "obd") for z in (0, 0.5, 0.9)]
    )  # fmt: skip
    figure2a(curves, "digits", ffn)
    extra = root / "reber-rnn"
    extra.mkdir()
    with styled():
        fig, axes = new_figure(3, 2)  # 3 in × 150 dpi: still saved ≥ 1200 px wide
        ax = axes[0][0]
        ax.plot([0, 1], [0.5, 0.9])
        save_figure(fig, extra / "small.png")


def test_report_layout_in_headless_chromium(tmp_path, browser):
    root = tmp_path / "out"
    _hard_page(root)
    page = write_report(root, tmp_path / "report.html", "layout test")
    for width in (1280, 1024):
        found = measure_layout(page, width=width, browser=browser)
        assert found["rows"] and found["images"], "the page's script measured nothing"
        assert found["tallest_row_lines"] <= MAX_ROW_LINES, found["tallest_row"]
        assert found["tables_overflowing"] == []
        assert found["images_upscaled"] == []
        assert found["page_overflow_px"] <= 0
        wide = [t for t in found["tables"] if t["width"] > width]
        assert wide and all(t["scroll_box"] and t["box_inside"] for t in wide)


def test_the_measurement_catches_a_broken_layout(tmp_path, browser):
    """The report with what the old page had: a notes cell squeezed into a narrow column, a
    wide table without a scroll box and an image stretched past its width. The measurements
    must show each (the browser check can fail)."""
    root = tmp_path / "out"
    _hard_page(root)
    page = write_report(root, tmp_path / "report.html", "layout test")
    note = "one repeat: std undefined; " * 12
    cells = "".join(f"<td>{v:.4f}</td>" for v in np.linspace(0, 1, 40))
    old = f'<table><tr><td>100</td>{cells}<td style="white-space: normal">{note}</td></tr></table>'
    text = page.read_text(encoding="utf-8").replace("</body>", old + "</body>")
    text = text.replace("<img ", '<img style="width: 1900px; max-width: none" ', 1)
    broken = tmp_path / "broken.html"
    broken.write_text(text, encoding="utf-8")
    found = measure_layout(broken, width=1280, browser=browser)
    assert found["tallest_row_lines"] > MAX_ROW_LINES
    assert len(found["tables_overflowing"]) == 1
    assert len(found["images_upscaled"]) == 1 and found["page_overflow_px"] > 0


@pytest.mark.slow
def test_demo_report_layout(tmp_path, browser):
    """The whole demo's report (about a minute; CI runs it from .ci/run)."""
    from hiddenstruct.experiments.demo import run_demo

    run_demo(tmp_path / "demo", tmp_path / "demo.sqlite")
    page = tmp_path / "demo" / "report.html"
    for width in (1280, 1024):
        found = measure_layout(page, width=width, browser=browser)
        assert len(found["images"]) >= 10
        assert found["tallest_row_lines"] <= MAX_ROW_LINES, found["tallest_row"]
        assert found["tables_overflowing"] == [] and found["page_overflow_px"] <= 0
        assert found["images_upscaled"] == []
