"""The whole `hiddenstruct demo` (what `make demo` runs): every step stores trials and figures."""

from __future__ import annotations

import base64

from hiddenstruct.cli.main import main
from hiddenstruct.experiments.demo import DEMO_STEPS
from hiddenstruct.trials.store import TrialStore

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_full_demo_writes_every_step_and_a_self_contained_report(tmp_path):
    out, store_path = tmp_path / "demo", tmp_path / "store.sqlite"
    assert main(["demo", "--output", str(out), "--store", str(store_path)]) == 0

    report = (out / "report.html").read_text()
    for title, _ in DEMO_STEPS:
        figures = sorted((out / title).glob("*.png"))
        assert figures, f"demo step {title} wrote no figure"
        for figure in figures:
            data = figure.read_bytes()
            assert data[:8] == PNG_MAGIC
            assert base64.b64encode(data).decode() in report  # embedded, not linked

    frame = TrialStore(store_path).to_dataframe()
    assert len(frame) and set(frame["status"]) == {"done"}
    assert len(set(frame["experiment"])) >= len(DEMO_STEPS)
