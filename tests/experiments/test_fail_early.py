"""Fail early: bad data or output paths stop an experiment before any trial is stored; failed
trials make the run fail with the first error."""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass

import pytest

from hiddenstruct.cli.main import main
from hiddenstruct.errors import HiddenstructError
from hiddenstruct.experiments import registry
from hiddenstruct.experiments.base import Experiment

NAME = "toy-fail"


@dataclass(frozen=True)
class Config:
    fail: tuple[int, ...] = (0, 1)


def run_toy_trial(trial, log):
    if trial["fail"]:
        raise ValueError(f"planned failure {trial['i']}")
    return {"ok": 1}


class ToyExperiment(Experiment):
    """A whole experiment: three trials, some planned to fail (the rest are the defaults)."""

    name = NAME
    config_type = Config

    def trials(self, config):
        return [{"i": i, "fail": i in config.fail} for i in range(3)]

    def run_trial(self, trial, log):
        return run_toy_trial(trial, log)

    def write_outputs(self, results, out_dir, config=None):
        return {"done": str(sum(r.status == "done" for r in results))}


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(registry.EXPERIMENTS, NAME, ToyExperiment())


def test_some_failed_trials_are_reported_with_the_first_error(toy, tmp_path):
    written = registry.run_experiment(
        NAME, Config(), tmp_path / "s.sqlite", tmp_path / "out", progress=False
    )
    assert written["done"] == "1"
    assert (
        written["failed"].startswith("2 of 3 trials") and "planned failure 0" in written["failed"]
    )


def test_all_failed_trials_raise_with_the_first_error(toy, tmp_path):
    with pytest.raises(HiddenstructError, match="all 3 toy-fail trials failed.*planned failure 0"):
        registry.run_experiment(
            NAME, Config((0, 1, 2)), tmp_path / "s.sqlite", tmp_path / "out", progress=False
        )


def _bad_mnist(folder):
    folder.mkdir()
    files = {
        "train-images-idx3-ubyte.gz": struct.pack(">IIII", 2050, 1, 28, 28) + bytes(784),
        "train-labels-idx1-ubyte.gz": struct.pack(">II", 2049, 1) + bytes(1),
        "t10k-images-idx3-ubyte.gz": struct.pack(">IIII", 2051, 1, 28, 28) + bytes(784),
        "t10k-labels-idx1-ubyte.gz": struct.pack(">II", 2049, 1) + bytes(1),
    }
    for name, data in files.items():
        with gzip.open(folder / name, "wb") as handle:
            handle.write(data)


def test_bad_data_dir_is_one_clear_error_and_nothing_is_written(tmp_path, capsys):
    _bad_mnist(tmp_path / "mnist")
    store = tmp_path / "runs" / "store.sqlite"
    code = main(
        ["experiment", "prune-ffn", "--dataset", "mnist", "--data-dir", str(tmp_path / "mnist"),
         "--output", str(tmp_path / "out"), "--store", str(store)]
    )  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz: magic number 2050, expected 2051" in err
    assert "Traceback" not in err and err.count("\n") <= 2
    assert not store.exists() and not (tmp_path / "out").exists()


def test_unwritable_output_is_an_error_before_any_trial(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = tmp_path / "store.sqlite"
    with pytest.raises(SystemExit) as exit_info:  # --output is checked as the options parse
        main(["experiment", "prune-ffn", "--output", str(blocker), "--store", str(store)])
    assert exit_info.value.code == 2
    assert "existing file; choose a folder" in capsys.readouterr().err and not store.exists()
