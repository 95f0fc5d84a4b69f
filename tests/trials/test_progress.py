"""Sweep progress: trial labels, epoch/step of running trials, an ETA that is never blank
after the first finished trial, plain log lines off a terminal."""

from __future__ import annotations

import time

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from hiddenstruct.training import train
from hiddenstruct.training.progress import report_progress, report_trial_progress
from hiddenstruct.trials.executors import run_trials
from hiddenstruct.trials.progress import (
    SweepProgress,
    estimate_eta,
    progress_fraction,
    trial_label,
)


def test_trial_label_names_what_tells_trials_apart():
    config = {"hidden": [300, 100], "method": "obd", "schedule": "relative", "retrain": True,
              "seed": 1, "lr": 0.01}  # fmt: skip
    assert trial_label(config) == "300-100 · obd · relative · retrain · seed 1"
    assert trial_label({"family": "watts_strogatz", "mode": "GRU", "index": 4, "n": 30}) == (
        "GRU · watts_strogatz · index 4 · n 30"
    )
    assert trial_label({"trials": [{}, {}, {}]}) == "pack of 3"


def test_eta_from_finished_durations_and_running_progress():
    assert estimate_eta([], [], 5, 1) is None  # nothing known yet
    assert estimate_eta([10.0, 10.0], [(4.0, None)], 2, 1) == pytest.approx(6 + 20)
    assert estimate_eta([10.0], [(4.0, None), (8.0, None)], 2, 2) == pytest.approx((6 + 2 + 20) / 2)
    # before any trial finished, a running trial's reported fraction gives the duration
    assert estimate_eta([], [(5.0, 0.5)], 1, 1) == pytest.approx(5 + 10)
    # a trial running longer than usual never makes the ETA blank or negative
    assert estimate_eta([3.0], [(100.0, None)], 0, 1) == pytest.approx(0.3)


def test_progress_fraction_from_epoch_and_step():
    assert progress_fraction({"epoch": 2, "epochs": 4, "step": 5, "steps": 10}) == pytest.approx(
        0.375
    )
    assert progress_fraction({"label": "x"}) is None


def _slow_training_trial(config, log):
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,)))
    model = torch.nn.Linear(4, 2)

    class Slow(DataLoader):
        def __iter__(self):
            for batch in super().__iter__():
                time.sleep(0.02)
                yield batch

    train(model, Slow(data, batch_size=8), epochs=config["epochs"], lr=0.01)
    report_progress(stage="done training")
    return {"ok": 1}


def test_running_trial_label_epoch_and_eta_in_plain_log_lines(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(SweepProgress, "__init__", _fast_init(SweepProgress.__init__))
    configs = [{"mode": "GRU", "seed": s, "epochs": 3} for s in range(2)]
    run_trials("toy", configs, _slow_training_trial, tmp_path / "s.sqlite", progress=True)
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.startswith("toy: ")]
    assert any("running: GRU · seed 0 · epoch" in x and "step" in x for x in lines), err
    assert any("/3 step" in x for x in lines)
    after_first = [x for x in lines if x.startswith("toy: 1/2")]
    assert after_first and all("ETA -:--:--" not in x for x in after_first)
    assert "\x1b[" not in "".join(lines)  # plain text off a terminal


def _fast_init(original):
    def init(self, experiment, total, mode, interval=30.0):
        original(self, experiment, total, mode, interval=0.1)

    return init


def test_reporting_outside_a_sweep_is_a_no_op(tmp_path):
    report_progress(epoch=1)  # no reporter: nothing happens
    with report_trial_progress(str(tmp_path / "missing"), "abc", "label"):
        report_progress(epoch=1)
    assert not (tmp_path / "missing").exists()
    with report_trial_progress(str(tmp_path), "abc", "label"):
        report_progress(stage="prune", level=3)
    assert '"stage": "prune"' in (tmp_path / "abc.json").read_text()
