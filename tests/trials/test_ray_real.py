"""A real local Ray instance gives the same results as the sequential executor.

Needs ``pip install 'hiddenstruct[ray]'`` (skipped otherwise) and starts a Ray instance, so it
is marked slow (``make test-slow``).
"""

from __future__ import annotations

import pytest

from hiddenstruct.cli.main import main

pytestmark = pytest.mark.slow


def test_prune_rnn_on_ray_equals_local(tmp_path):
    pytest.importorskip("ray")
    common = ["experiment", "prune-rnn", "--modes", "GRU", "RNN_RELU", "--n", "300"]
    for name, extra in (("local", []), ("ray", ["--executor", "ray", "--workers", "2"])):
        args = [
            *common,
            "--output",
            str(tmp_path / name),
            "--store",
            str(tmp_path / f"{name}.sqlite"),
        ]
        assert main(args + extra) == 0
    for table in ("points.csv", "summary.csv"):
        local = (tmp_path / "local" / table).read_text()
        assert local == (tmp_path / "ray" / table).read_text()
    assert len(local.splitlines()) > 1
