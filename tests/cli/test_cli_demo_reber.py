"""`hiddenstruct demo --only reber-rnn`: trains once, stores the trial, rerun skips it."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from hiddenstruct.cli.main import main
from hiddenstruct.experiments.figures import mean_std
from hiddenstruct.experiments.reber_demo import EXPERIMENT
from hiddenstruct.trials.store import TrialStore


def test_reber_demo_step_trains_stores_and_resumes(tmp_path):
    out, store_path = tmp_path / "demo", tmp_path / "store.sqlite"
    args = ["demo", "--only", "reber-rnn", "--output", str(out), "--store", str(store_path)]
    assert main(args) == 0
    figure = out / "reber-rnn" / "learning_curve.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (out / "reber-rnn" / "learning_curve.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    (trial,) = TrialStore(store_path).trials(EXPERIMENT)
    assert trial.status == "done" and trial.attempts == 1
    assert len(rows) == trial.result["epochs_run"] >= 1
    assert trial.result["test_accuracy"] > 0.75  # far above chance on a balanced set
    first_finish = trial.finished_at
    assert main(args) == 0  # rerun: the stored trial is reused, not retrained
    (again,) = TrialStore(store_path).trials(EXPERIMENT)
    assert (again.attempts, again.finished_at) == (1, first_finish)


def test_mean_std_uses_sample_std():
    mean, std = mean_std([[1.0, 2.0], [3.0, 6.0]])
    assert mean.tolist() == [2.0, 4.0]
    assert std == pytest.approx(np.std([[1, 2], [3, 6]], axis=0, ddof=1))
    assert mean_std([[1.0, 2.0]])[1].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError):
        mean_std([1.0, 2.0])
