"""benchmarks/bench_structured.py without its optional peer: a message and exit 0."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_structured.py"


def test_without_torch_pruning_the_benchmark_says_so_and_exits_cleanly(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BENCH.parent))
    monkeypatch.setitem(sys.modules, "torch_pruning", None)  # import fails as if absent
    monkeypatch.setattr(sys, "argv", ["bench_structured.py", "--quick"])
    spec = importlib.util.spec_from_file_location("bench_structured_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main() == 0
    out = capsys.readouterr().out
    assert "Torch-Pruning is not installed" in out and "Nothing measured" in out
