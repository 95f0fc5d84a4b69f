"""prune-rnn data options: --negatives, --unique, --reber-csv; overlap in results and outputs."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from hiddenstruct.cli.main import main
from hiddenstruct.data.reber import generate_reber_dataset
from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.prune_rnn.experiment import (
    EXPERIMENT,
    PRESETS,
    PRUNE_RNN,
    PruneRNNConfig,
    trial_configs,
)
from hiddenstruct.trials.store import TrialStore

TINY = PruneRNNConfig(
    modes=("GRU",), reber_n=120, embedding_dim=4, hidden_sizes=(4,), base_epochs=1, lr=1e-2,
    percents=(1.0,), retrain_epochs=0, batch_size=32,
)  # fmt: skip


def test_data_options_change_identity_only_when_set():
    old = replace(TINY, unique=None)  # the default before 0.2.0: trials without the key
    (plain,) = trial_configs(old)
    assert not {"negatives", "unique", "reber_csv_sha256"} & set(plain)
    assert PRUNE_RNN.identities(replace(old, negatives="mix")) == PRUNE_RNN.identities(old)
    assert PRUNE_RNN.identities(replace(old, negatives="authors")) != PRUNE_RNN.identities(old)
    assert PRUNE_RNN.identities(replace(old, unique=True)) != PRUNE_RNN.identities(old)
    (new,) = trial_configs(TINY)  # today's default: unique strings, a new trial
    assert new["unique"] is True and PRUNE_RNN.identities(TINY) == PRUNE_RNN.identities(
        replace(old, unique=True)
    )
    assert PRUNE_RNN.identities(replace(TINY, unique=False)) not in (
        PRUNE_RNN.identities(TINY),
        PRUNE_RNN.identities(old),
    )
    assert PRESETS["paper"]["negatives"] == "authors" and PRESETS["paper"]["unique"] is True


def test_csv_data_keyed_by_content_and_overlap_written(tmp_path):
    data = generate_reber_dataset(160, 2, negatives="hard")
    csv = data.to_csv(tmp_path / "d.csv")
    config = replace(TINY, reber_csv=(str(csv),))
    (trial,) = trial_configs(config)
    assert trial["reber_csv_sha256"] == data.checksum()
    assert trial["runtime"]["reber_csv"] == [str(csv.resolve())]
    store = TrialStore(tmp_path / "s.sqlite")
    written = PRUNE_RNN.run(config, store, tmp_path / "out", progress=False)
    (record,) = store.trials(EXPERIMENT)
    assert record.result["data_checksum"] == data.checksum()
    assert record.result["test_in_train"] == pytest.approx(data.leakage())
    table = pd.read_csv(written["reber data"])
    assert table["data_checksum"].tolist() == [data.checksum()]
    assert "test strings also in train" in written["train/test overlap"]


def test_cli_reber_csv_two_files_and_errors(tmp_path, capsys):
    base = ["experiment", "prune-rnn", "--modes", "GRU", "--reber-n", "120", "--percents", "1.0"]
    base += ["--hidden-sizes", "4", "--embedding-dim", "4", "--base-epochs", "1"]
    (tmp_path / "tr.csv").write_text("string,valid\nBTXSE,1\nBTTE,0\n")
    (tmp_path / "te.csv").write_text("string,valid\nBPVVE,1\nBPE,0\n")
    argv = [*base, "--reber-csv", str(tmp_path / "tr.csv"), str(tmp_path / "te.csv")]
    assert main([*argv, "--print-config"]) == 0
    assert "reber_csv" in capsys.readouterr().out
    (tmp_path / "bad.csv").write_text("string,valid\nBTXSE,yes\n")
    store, out = str(tmp_path / "s.sqlite"), str(tmp_path / "out")
    code = main([*base, "--reber-csv", str(tmp_path / "bad.csv"), str(tmp_path / "te.csv"),
                 "--store", store, "--output", out])  # fmt: skip
    assert code == 2 and "not a binary label" in capsys.readouterr().err
    code = main([*base, "--negatives", "authors", "--unique", "true", "--print-config"])
    assert code == 0 and 'negatives = "authors"' in capsys.readouterr().out


def test_validation_is_carved_from_train_never_from_test():
    from hiddenstruct.data.reber_torch import torch_splits
    from hiddenstruct.experiments.reber_inputs import hold_out_validation

    train_ds, test_ds = torch_splits(generate_reber_dataset(400, 0))
    kept, held = hold_out_validation(train_ds, 0.1, seed=0)
    assert len(held) == 30 and len(kept) == 270
    assert set(kept.strings) | set(held.strings) == set(train_ds.strings)
    assert not set(held.strings) & (set(kept.strings) | set(test_ds.strings))
    assert held.labels.sum().item() == 15  # class-stratified: half in the grammar
    again = hold_out_validation(train_ds, 0.1, seed=0)[1]
    assert again.strings == held.strings  # seeded
    assert hold_out_validation(train_ds, 0.0, seed=0) == (train_ds, None)
    with pytest.raises(UsageError, match="raise --reber-n"):
        hold_out_validation(train_ds, 0.001, seed=0)
