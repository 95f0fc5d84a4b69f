"""prune-ffn experiment at toy scale: outputs are consistent and an interrupted run resumes."""

from __future__ import annotations

import csv

from hiddenstruct.experiments.prune_ffn.experiment import (
    BASE_EXPERIMENT,
    EXPERIMENT,
    PRUNE_FFN,
    PruneFFNConfig,
    attach_bases,
    trial_configs,
)
from hiddenstruct.experiments.prune_ffn.outputs import ffn_table
from hiddenstruct.experiments.prune_ffn.trial import ffn_trial
from hiddenstruct.trials.config import added_defaults
from hiddenstruct.trials.executors import run_trials
from hiddenstruct.trials.store import TrialStore

TINY = PruneFFNConfig(
    architectures=((8,),),
    methods=("class_blinded", "obd"),
    repeats=1,
    epochs=2,
    relative_p=0.5,
    max_zero_fraction=0.9,
    obd_samples=64,
    train_subset=128,
    batch_size=64,
)


def test_interrupted_run_resumes_without_rerunning_finished_trials(tmp_path):
    store = TrialStore(tmp_path / "store.sqlite")
    configs = trial_configs(TINY)
    assert len(configs) == 2 * 2  # methods × with/without retraining
    # "interrupted" sweep: only the first two trials got to run
    linked = attach_bases(configs[:2], store, progress=False)
    added = added_defaults(PruneFFNConfig)  # as the sweep does (threads 1 is no identity key)
    first = run_trials(EXPERIMENT, linked, ffn_trial, store, progress=False, added=added)
    before = {r.hash: (r.attempts, r.finished_at) for r in first}
    written = PRUNE_FFN.run(TINY, store, tmp_path / "out", progress=False)
    records = store.trials(EXPERIMENT)
    assert len(records) == 4 and all(r.status == "done" for r in records)
    for r in records:
        if r.hash in before:
            assert (r.attempts, r.finished_at) == before[r.hash]
    assert written["trials"] == "4/4 done"
    (base,) = store.trials(BASE_EXPERIMENT)  # one (architecture, seed): one base, trained once
    assert base.status == "done" and base.attempts == 1
    for key in ("curves", "table", "figure2a_8_relative"):
        assert (tmp_path / "out").joinpath(written[key]).exists()

    with open(written["curves"]) as handle:
        rows = list(csv.DictReader(handle))
    by_trial: dict[tuple, list[dict]] = {}
    for row in rows:
        by_trial.setdefault((row["method"], row["retrain"]), []).append(row)
    assert len(by_trial) == 4
    for steps in by_trial.values():
        fractions = [float(r["zero_fraction"]) for r in steps]
        assert fractions == sorted(fractions) and fractions[0] == 0.0
        assert abs(fractions[-1] - 0.9) < 0.01
        # steps are clipped to land exactly on the table's checkpoints (within rounding)
        for point in (0.5, 0.6, 0.8, 0.9):
            assert min(abs(f - point) for f in fractions) < 0.01
        assert all(0.0 <= float(r["accuracy"]) <= 1.0 for r in steps)


def test_trials_are_reproducible_and_obd_uses_exact_diagonal(tmp_path):
    configs = [c for c in trial_configs(TINY) if c["method"] == "obd" and not c["retrain"]]
    a_store, b_store = TrialStore(tmp_path / "a.sqlite"), TrialStore(tmp_path / "b.sqlite")
    a_linked = attach_bases(configs, a_store, progress=False)
    b_linked = attach_bases(configs, b_store, progress=False)
    a = run_trials(EXPERIMENT, a_linked, ffn_trial, a_store, progress=False)
    b = run_trials(EXPERIMENT, b_linked, ffn_trial, b_store, progress=False)
    assert a[0].result["points"] == b[0].result["points"]
    assert a[0].result["criterion_details"]["hessian_diagonal"] == "exact"


def test_table_reads_exact_checkpoints():
    rows = []
    for repeat, acc in ((0, 0.8), (1, 0.6)):
        rows += [
            {
                "architecture": "8",
                "schedule": "relative",
                "method": "m",
                "retrain": False,
                "repeat": repeat,
                "step": 0,
                "zero_fraction": 0.0,
                "accuracy": 0.9,
            },
            {
                "architecture": "8",
                "schedule": "relative",
                "method": "m",
                "retrain": False,
                "repeat": repeat,
                "step": 1,
                "zero_fraction": 0.5,
                "accuracy": acc,
            },
        ]
    (entry,) = ffn_table(rows, (0.5, 0.9))
    assert entry["unpruned"] == 0.9
    assert entry["acc@50%"] == 0.7 and abs(entry["std@50%"] - 0.1414) < 1e-3
    assert entry["acc@90%"] != entry["acc@90%"]  # NaN: no step landed there
    assert entry["std@90%"] != entry["std@90%"]
    assert (entry["n@50%"], entry["n@90%"], entry["repeats"]) == (2, 0, 2)
    assert entry["notes"] == "@90%: no values" and entry["below_chance"] == 0
    # one repeat: the std is undefined (NaN with a reason), not 0.0
    (single,) = ffn_table([r for r in rows if r["repeat"] == 0], (0.5,))
    assert single["acc@50%"] == 0.8 and single["std@50%"] != single["std@50%"]
    assert "one repeat" in single["notes"]
    at_chance = [{**r, "accuracy": 0.11} if r["step"] == 0 else r for r in rows]
    (flagged,) = ffn_table(at_chance, (0.5,))
    assert flagged["below_chance"] == 2 and "at chance level" in flagged["notes"]


def test_cli_rejects_mnist_without_data_dir(tmp_path, capsys):
    from hiddenstruct.cli.main import main

    out = tmp_path / "out"
    code = main(
        [
            "experiment",
            "prune-ffn",
            "--dataset",
            "mnist",
            "--output",
            str(out),
            "--store",
            str(tmp_path / "s.sqlite"),
        ]
    )
    assert code == 2
    assert "--data-dir" in capsys.readouterr().err
    assert not out.exists()


def test_lobs_is_an_opt_in_method_that_runs_and_renames_no_default_trial(tmp_path):
    from hiddenstruct.experiments.prune_ffn.config import DEFAULT_METHODS, METHODS
    from hiddenstruct.trials.identity import trial_identity

    assert PruneFFNConfig().methods == DEFAULT_METHODS and "lobs" not in DEFAULT_METHODS
    assert PRUNE_FFN.make_config("paper").methods == DEFAULT_METHODS and "lobs" in METHODS
    with_lobs = PruneFFNConfig(**{**TINY.__dict__, "methods": ("class_blinded", "obd", "lobs")})
    plain = {trial_identity(EXPERIMENT, c) for c in trial_configs(TINY)}
    extended = {trial_identity(EXPERIMENT, c) for c in trial_configs(with_lobs)}
    assert plain < extended and len(extended - plain) == 2  # only the lobs trials are new
    configs = [c for c in trial_configs(with_lobs) if c["method"] == "lobs" and not c["retrain"]]
    store = TrialStore(tmp_path / "store.sqlite")
    (record,) = run_trials(
        EXPERIMENT, attach_bases(configs, store, progress=False), ffn_trial, store, progress=False
    )
    assert record.status == "done"
    assert record.result["criterion_details"]["criterion"] == "lobs"
    assert abs(record.result["points"][-1]["zero_fraction"] - 0.9) < 0.01
