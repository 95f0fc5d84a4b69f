"""Diverged training fails with a reason; a sweep with a diverged trial exits 1 (docs/reliability.md)."""

from __future__ import annotations

import io

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from hiddenstruct.errors import TrainingDiverged
from hiddenstruct.training import train
from hiddenstruct.trials.executors import run_trials
from hiddenstruct.trials.outcome import sweep_exit_code
from hiddenstruct.trials.store import TrialStore


def _loader(nan_at: int | None = None) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 4, generator=g)
    y = (x.sum(1) > 0).long()
    if nan_at is not None:
        x[nan_at] = float("nan")
    return DataLoader(TensorDataset(x, y), batch_size=16)


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def test_nan_input_stops_training_at_the_step_it_appears():
    with pytest.raises(
        TrainingDiverged, match=r"loss became NaN at epoch 1, step 3; try a smaller --lr"
    ):
        train(_model(), _loader(nan_at=40), epochs=2, lr=1e-3, progress=False)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_huge_learning_rate_is_a_failure_not_a_result(optimizer):
    with pytest.raises(TrainingDiverged, match=r"(exploded|NaN|infinite).*\(it was 1e\+09\)"):
        train(_model(), _loader(), epochs=3, optimizer=optimizer, lr=1e9, progress=False)


def test_sane_training_is_not_flagged():
    history = train(_model(), _loader(), epochs=3, lr=0.05, progress=False)
    assert history.final.train_accuracy > 0.6


def diverging_trial(config, log):
    train(_model(), _loader(), epochs=2, optimizer="sgd", lr=config["lr"], progress=False)
    return {"ok": True}


def test_a_sweep_with_a_diverged_trial_exits_1_and_says_why(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    records = run_trials("div", [{"lr": 0.05}, {"lr": 1e9}], diverging_trial, store, progress=False)
    assert [r.status for r in records] == ["done", "failed"]
    assert "TrainingDiverged" in records[1].error
    err = io.StringIO()
    assert sweep_exit_code(store, {"curves": "out/curves.csv", "trials": "1/2 done"}, err) == 1
    text = err.getvalue()
    assert "1 trial(s) failed; first error: TrainingDiverged: loss" in text
    assert "(curves) were written from the finished trials only (1/2 done)" in text
    clean = TrialStore(tmp_path / "t.sqlite")
    run_trials("div", [{"lr": 0.05}], diverging_trial, clean, progress=False)
    assert sweep_exit_code(clean, {"trials": "1/1 done"}, io.StringIO()) == 0
