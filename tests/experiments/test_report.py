"""The HTML report: paper order, TOC, claims vs numbers, embedded figures, linked CSVs, configs."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hiddenstruct.experiments.priors_rnn.figures import figure7
from hiddenstruct.experiments.prune_ffn.figures import figure2a
from hiddenstruct.experiments.report import write_report
from hiddenstruct.trials.store import TrialStore

METHODS = ["random", "class_blinded", "class_uniform", "class_distributed", "obd"]


class Page(HTMLParser):
    """Collects what the tests check: sections, headings, images, links, tables, pre blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.sections, self.h2, self.images, self.links, self.pre = [], [], [], [], 0
        self.rows_per_table, self._in_h2, self._rows = [], False, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        elif tag == "h2":
            self._in_h2 = True
            self.h2.append("")
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "a":
            self.links.append(attrs["href"])
        elif tag == "pre":
            self.pre += 1
        elif tag == "table":
            self._rows = 0
        elif tag == "tr" and self._rows is not None:
            self._rows += 1

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False
        elif tag == "table":
            self.rows_per_table.append(self._rows)
            self._rows = None

    def handle_data(self, data):
        if self._in_h2:
            self.h2[-1] += data


def _outputs(root: Path) -> None:
    rng = np.random.default_rng(0)
    ffn = root / "prune-ffn"
    curves = pd.DataFrame(
        [dict(architecture="100", method=m, schedule="relative", retrain=r, repeat=k, step=s,
              zero_fraction=z, accuracy=0.97 - (0.5 if m == "random" else 0.1) * z**2)
         for m in METHODS for r in (False, True) for k in range(2)
         for s, z in enumerate((0, 0.5, 0.6, 0.9))]
    )  # fmt: skip
    ffn.mkdir(parents=True)
    curves.to_csv(ffn / "curves.csv", index=False)
    figure2a(curves, "MNIST", ffn)
    table = [
        {"architecture": "100", "schedule": "relative", "method": m, "retrain": r,
         "unpruned": 0.97, "acc@60%": 0.9 if m != "random" else 0.6,
         "acc@90%": {"class_blinded": 0.93, "obd": 0.92}.get(m, 0.5)}
        for m in METHODS for r in (False, True)
    ]  # fmt: skip
    pd.DataFrame(table).to_csv(ffn / "table.csv", index=False)
    rnn = root / "prune-rnn"
    rnn.mkdir()
    pd.DataFrame(
        [{"mode": "GRU", "scope": "both", "base_accuracy": 1.0, "tolerated_p": 0.7,
          "epochs@70%": "", "epochs@90%": "1"}]
    ).to_csv(rnn / "summary.csv", index=False)  # fmt: skip
    priors = root / "priors-rnn"
    priors.mkdir()
    pd.DataFrame(
        [{"mode": "GRU", "family": f, "graphs": 3, "test_acc_mean": a}
         for f, a in (("watts_strogatz", 0.8), ("barabasi_albert", 0.9))]
    ).to_csv(priors / "family_summary.csv", index=False)  # fmt: skip
    meta = pd.DataFrame(
        {"mode": "GRU", "family": ["watts_strogatz", "barabasi_albert"] * 5,
         "test_acc": rng.uniform(0.6, 0.9, 10)}
    )  # fmt: skip
    figure7(meta, priors / "figure7.png")
    nas = root / "nas"
    nas.mkdir()
    summary = {
        "prediction": {"best_val_accuracy": 0.8, "search_seconds": 10.0, "measured": 5, "estimated": 4},
        "no_prediction": {"best_val_accuracy": 0.79, "search_seconds": 15.0, "measured": 9, "estimated": 0},
        "speedup_from_prediction": 1.5,
        "config": {"population": 5, "channels": [4, 8], "nested": {"a": {"b": 1}}},
    }  # fmt: skip
    (nas / "summary.json").write_text(json.dumps(summary, indent=2))
    pd.DataFrame(
        [
            dict(search="no_prediction", elapsed=t, best_measured=a)
            for t, a in ((5, 0.5), (15, 0.79))
        ]
        + [dict(search="prediction", elapsed=t, best_measured=a) for t, a in ((2, 0.6), (6, 0.8))]
    ).to_csv(nas / "generations.csv", index=False)
    extra = root / "reber-rnn"
    extra.mkdir()
    pd.DataFrame({"epoch": range(1, 51), "loss": np.linspace(1, 0.1, 50)}).to_csv(
        extra / "learning_curve.csv", index=False
    )


@pytest.fixture
def report(tmp_path):
    root = tmp_path / "out"
    _outputs(root)
    store = TrialStore(tmp_path / "store.sqlite")
    for seed in (0, 1):
        store.register("prune-ffn", {"method": "obd", "seed": seed, "lr": 0.01, "hidden": [100]})
    out = tmp_path / "site" / "report.html"
    write_report(root, out, "test report", store=store)
    page = Page()
    text = out.read_text(encoding="utf-8")
    page.feed(text)
    return root, out, text, page


def test_sections_follow_the_paper_with_a_table_of_contents(report):
    _, _, text, page = report
    assert page.sections == ["prune-ffn", "prune-rnn", "priors-rnn", "nas", "reber-rnn"]
    assert page.h2[0] == "Contents" and page.h2[1].startswith("§4.1")
    assert [h[:4] for h in page.h2[1:5]] == ["§4.1", "§4.2", "§4.3", "§4.4"]
    for anchor in page.sections:
        assert f'href="#{anchor}"' in text


def test_every_image_is_embedded_and_every_link_resolves(report):
    root, out, _, page = report
    assert len(page.images) == 2  # figure 2a and figure 7 (their SVG twins are not repeated)
    files = {p.read_bytes() for p in root.rglob("*.png")}
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) in files
    external = [h for h in page.links if not h.startswith("#")]
    assert external, "tables link their full CSV"
    for href in external:
        assert (out.parent / href).resolve().is_file(), href


def test_claims_next_to_key_numbers_and_truncated_tables(report):
    _, _, text, page = report
    assert "Magnitude class-blinded pruning clearly outperforms" in text
    assert "<td>class_blinded</td>" in text  # best at 90 % in this run
    assert "safely pruned (paper)" in text and "<td>80 %</td>" in text  # GRU both, §4.2
    assert "+10.0 pt" in text  # BA − WS
    assert "with prediction 6.0 s (speed-up 2.50×)" in text and "1.69×" in text
    assert "first 10 of 50 rows" in text and "first 10 of 80 rows" in text
    assert max(page.rows_per_table) <= 11 + 20  # no table dumps a whole CSV
    assert page.pre == 0 and '{"' not in text and "&quot;" not in text  # no raw JSON


def test_config_seeds_and_versions_per_section(report):
    import torch

    _, _, text, _ = report
    assert "Varying across trials (seeds included)" in text
    assert "<th>seed</th><td>0; 1</td>" in text
    assert "<th>hidden</th><td>100</td>" in text
    assert f"<td>{torch.__version__}</td>" in text and "git commit" in text
    assert "no reber-rnn trials" not in text and "no demo-reber-rnn trials in the store" in text


@pytest.mark.slow
def test_report_renders_in_headless_chromium(report, tmp_path):
    browser = next(
        (
            shutil.which(b)
            for b in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(b)
        ),
        None,
    )
    if browser is None:
        pytest.skip("no Chromium installed")
    _, out, _, _ = report
    dom = subprocess.run(
        [browser, "--headless", "--disable-gpu", "--no-sandbox", "--dump-dom", out.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    for anchor in ("prune-ffn", "prune-rnn", "priors-rnn", "nas"):
        assert f'id="{anchor}"' in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, "--headless", "--disable-gpu", "--no-sandbox", f"--screenshot={shot}",
         "--window-size=1280,4000", out.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert shot.stat().st_size > 10_000
