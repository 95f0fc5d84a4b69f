"""run_experiment builds an experiment's trials once: its input files are read once per run."""

from __future__ import annotations

from collections import Counter

import pytest

from hiddenstruct.data.reber import generate_reber_dataset
from hiddenstruct.errors import HiddenstructError
from hiddenstruct.experiments import reber_inputs, registry
from hiddenstruct.experiments.priors_rnn import graph_inputs
from hiddenstruct.graphs.generators import watts_strogatz
from hiddenstruct.graphs.io import write_graph


class RunsNothing:
    """An executor that takes no job: the sweep registers its trials and runs none."""

    def map_unordered(self, fn, jobs):
        return iter(())


@pytest.fixture
def reads(monkeypatch):
    """Calls of the input-file readers the trial builders use, by reader."""
    counts: Counter[str] = Counter()

    def counting(module, name):
        reader = getattr(module, name)

        def read(*args, **kwargs):
            counts[name] += 1
            return reader(*args, **kwargs)

        monkeypatch.setattr(module, name, read)

    counting(reber_inputs, "read_reber_csvs")
    counting(graph_inputs, "load_graph_files")
    return counts


@pytest.fixture
def inputs(tmp_path):
    csv = generate_reber_dataset(200, 5, negatives="authors").to_csv(tmp_path / "reber.csv")
    graph = write_graph(watts_strogatz(8, 4, 1.0, seed=0), tmp_path / "g" / "ws_0.edgelist")
    return str(csv), str(graph)


@pytest.mark.parametrize(
    ("name", "given"),
    [
        ("prune-rnn", lambda csv, graph: {"modes": ("GRU",), "reber_csv": (csv,)}),
        (
            "priors-rnn",
            lambda csv, graph: {"modes": ("GRU",), "reber_csv": (csv,), "graphs": (graph,)},
        ),
    ],
)
def test_each_input_file_is_read_once_per_run(tmp_path, reads, inputs, name, given):
    config = registry.make_config(name, "demo", **given(*inputs))
    reads.clear()
    with pytest.raises(HiddenstructError, match="finished"):
        registry.run_experiment(
            name, config, tmp_path / "s.sqlite", tmp_path / "out", RunsNothing(), progress=False
        )
    expected = {"read_reber_csvs": 1, **({"load_graph_files": 1} if name == "priors-rnn" else {})}
    assert dict(reads) == expected
