"""prune-rnn experiment at toy scale: scopes × p from one base, summary rules, resume."""

from __future__ import annotations

from hiddenstruct.experiments.prune_rnn.experiment import (
    EXPERIMENT,
    PRUNE_RNN,
    PruneRNNConfig,
    epochs_to_recover,
    summarize,
)
from hiddenstruct.trials.store import TrialStore

TINY = PruneRNNConfig(
    modes=("GRU",),
    reber_n=120,
    embedding_dim=4,
    hidden_sizes=(4,),
    base_epochs=1,
    lr=1e-2,
    percents=(0.5, 1.0),
    retrain_epochs=1,
    batch_size=32,
)


def test_runs_every_scope_and_p_and_resumes(tmp_path):
    store = TrialStore(tmp_path / "store.sqlite")
    written = PRUNE_RNN.run(TINY, store, tmp_path / "out", progress=False)
    (gru,) = store.trials(EXPERIMENT)
    points = gru.result["points"]
    assert {(p["scope"], p["p"]) for p in points} == {
        (s, p) for s in ("both", "i2h", "h2h") for p in (0.5, 1.0)
    }
    for p in points:
        assert abs(p["zero_fraction"] - p["p"]) < 0.02
        assert len(p["accuracy_retrained"]) <= 1
    for key in ("points", "summary", "figure2b_both", "figure5a_i2h", "figure5b_h2h"):
        assert (tmp_path / "out").joinpath(written[key]).exists()
    # adding a mode later resumes: the GRU trial is not run again
    more = PruneRNNConfig(**{**TINY.__dict__, "modes": ("GRU", "RNN_RELU")})
    PRUNE_RNN.run(more, store, tmp_path / "out", progress=False)
    records = {r.config["mode"]: r for r in store.trials(EXPERIMENT)}
    assert set(records) == {"GRU", "RNN_RELU"}
    assert (records["GRU"].attempts, records["GRU"].finished_at) == (gru.attempts, gru.finished_at)


def test_epochs_to_recover_and_tolerated_p():
    def point(scope, p, pruned, retrained):
        return {"scope": scope, "p": p, "accuracy_pruned": pruned, "accuracy_retrained": retrained}

    assert epochs_to_recover(point("both", 0.1, 0.995, []), 1.0, 0.01) == 0
    assert epochs_to_recover(point("both", 0.9, 0.5, [0.8, 0.999]), 1.0, 0.01) == 2
    assert epochs_to_recover(point("both", 1.0, 0.5, [0.5]), 1.0, 0.01) is None
    record = {
        "mode": "LSTM",
        "result": {
            "base_accuracy": 1.0,
            "points": [
                point("both", 0.1, 1.0, []),
                point("both", 0.2, 0.995, []),
                point("both", 0.3, 0.9, [1.0]),
                point("both", 0.4, 1.0, []),
                point("both", 0.5, 0.5, [0.6]),
            ],
        },
    }
    (row,) = summarize([record], 0.01)
    assert row["tolerated_p"] == 0.2  # the first failing p ends the tolerated range
    assert (
        row["epochs@30%"] == 1 and row["epochs@40%"] == 0 and row["epochs@50%"] == ">1"
    )  # not recovered within the 1 epoch tried


def test_cli_rejects_unknown_percent(tmp_path):
    import pytest

    from hiddenstruct.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(["experiment", "prune-rnn", "--percents", "1.5", "--output", str(tmp_path / "o")])
    assert info.value.code == 2
    assert not (tmp_path / "o").exists()


def test_cli_hard_fraction_reaches_the_stored_config(tmp_path):
    import pytest

    from hiddenstruct.cli.main import main

    tiny = ["--modes", "GRU", "--scopes", "both", "--percents", "0.5", "--n", "80"]
    tiny += ["--hidden-sizes", "3", "--embedding-dim", "3", "--base-epochs", "1"]
    tiny += ["--retrain-epochs", "0", "--store", str(tmp_path / "s.sqlite")]
    with pytest.raises(SystemExit) as info:
        main(["experiment", "prune-rnn", *tiny, "--hard-fraction", "1.5"])
    assert info.value.code == 2
    assert not (tmp_path / "s.sqlite").exists()
    code = main(
        ["experiment", "prune-rnn", *tiny, "--hard-fraction", "0", "--output", str(tmp_path / "o")]
    )
    assert code == 0
    (trial,) = TrialStore(tmp_path / "s.sqlite").trials(EXPERIMENT)
    assert trial.config["hard_fraction"] == 0.0


def test_iterative_rounds_reach_each_level_in_all(tmp_path):
    # without retraining the weights never change, so continuing from the previous level must
    # prune exactly what pruning the base to that level does (same zero fractions, same
    # accuracies); the per-level share of the remaining weights is what makes that hold
    from hiddenstruct.experiments.prune_rnn.config import trial_configs
    from hiddenstruct.experiments.prune_rnn.trial import rnn_trial
    from hiddenstruct.training.seeding import seed_everything

    class Log:
        def metric(self, *args, **kwargs):
            pass

        def artifact_file(self, name):
            return None

    settings = {
        **TINY.__dict__,
        **dict(percents=(0.25, 0.5, 1.0), retrain_epochs=0, base_epochs=6, reber_n=400, lr=3e-2),
    }  # a base above chance (0.79), so the accuracies after pruning differ between levels
    results = {}
    for rounds in ("from-base", "iterative"):
        config = PruneRNNConfig(**{**settings, "threshold": "global", "rounds": rounds})
        (cfg,) = trial_configs(config)
        assert cfg["rounds"] == rounds
        seed_everything(cfg["seed"])  # as the executor does before every trial
        results[rounds] = rnn_trial(cfg, Log())["points"]
    assert [(p["scope"], p["p"]) for p in results["iterative"]] == [
        (p["scope"], p["p"]) for p in results["from-base"]
    ]
    assert len({p["accuracy_pruned"] for p in results["from-base"]}) > 2
    for ours, base in zip(results["iterative"], results["from-base"], strict=True):
        assert ours["zero_fraction"] == base["zero_fraction"]
        assert ours["accuracy_pruned"] == base["accuracy_pruned"]


def test_iterative_rounds_change_identity_and_the_default_does_not():
    assert PRUNE_RNN.identities(TINY) == PRUNE_RNN.identities(
        PruneRNNConfig(**{**TINY.__dict__, "rounds": "from-base"})
    )
    assert PRUNE_RNN.identities(TINY) != PRUNE_RNN.identities(
        PruneRNNConfig(**{**TINY.__dict__, "rounds": "iterative"})
    )
