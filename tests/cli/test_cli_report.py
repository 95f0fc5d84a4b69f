"""`hiddenstruct report`: a self-contained page with one section per experiment folder."""

from __future__ import annotations

import base64
import re

from hiddenstruct.cli.main import main
from hiddenstruct.experiments.figures import new_figure, save_figure
from hiddenstruct.trials.store import TrialStore


def _make_output(root):
    fig, axes = new_figure(8.4, 4.2)
    ax = axes[0][0]
    ax.plot([0, 1], [0, 1])
    save_figure(fig, root / "prune-ffn" / "curve.png", svg=True)
    (root / "prune-ffn" / "table.csv").write_text("sparsity,accuracy\n0.5,0.9\n0.1,0.7\n")
    (root / "reber-rnn" / "sub").mkdir(parents=True)
    (root / "reber-rnn" / "sub" / "metrics.csv").write_text("epoch,loss\n1,0.3\n")
    (root / "summary.csv").write_text("a,b\n1,2\n")
    (root / "reber-rnn" / "best.json").write_text('{"accuracy": 0.93, "name": "<gru>"}')


def test_report_embeds_figures_and_tables(tmp_path, capsys):
    root = tmp_path / "out"
    _make_output(root)
    store = TrialStore(tmp_path / "s.sqlite")
    store.register("prune-ffn", {"a": 1})
    output = tmp_path / "report.html"
    code = main(
        [
            "report",
            "--input",
            str(root),
            "--output",
            str(output),
            "--store",
            str(tmp_path / "s.sqlite"),
        ]
    )
    assert code == 0
    page = output.read_text()
    sections = re.findall(r"<h2>(.*?)</h2>", page)
    assert sections == [
        "Contents",
        "Trials in the store",
        "§4.1 Pruning feed-forward networks",
        "Other outputs: reber-rnn",
        "Files at the top level",
    ]
    images = re.findall(r'src="data:(image/[a-z+]+);base64,([A-Za-z0-9+/=]+)"', page)
    assert [mime for mime, _ in images] == ["image/png"]  # svg twin of a png is not repeated
    assert base64.b64decode(images[0][1]) == (root / "prune-ffn" / "curve.png").read_bytes()
    assert "<td>0.9</td>" in page and "sub/metrics.csv" in page
    assert "<td>&lt;gru&gt;</td>" in page  # JSON shown as an escaped key/value table
    links = re.findall(r'href="(?!#)([^"]+)"', page)
    assert links and all((output.parent / href).is_file() for href in links)  # full CSVs
    assert not re.search(r'src="(?!data:)', page)  # images embedded


def test_report_errors(tmp_path, capsys):
    assert (
        main(["report", "--input", str(tmp_path / "missing"), "--output", str(tmp_path / "r.html")])
        == 2
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", "--input", str(empty), "--output", str(tmp_path / "r.html")]) == 1
    assert "nothing to report" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
