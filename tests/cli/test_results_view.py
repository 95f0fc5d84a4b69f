"""`results list` columns per experiment, internal experiments hidden, --where; `results show`."""

from __future__ import annotations

import pytest

from hiddenstruct.cli.main import main
from hiddenstruct.trials.store import TrialStore


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "store.sqlite"
    store = TrialStore(path)
    for method, seed, acc in (("obd", 0, 0.81), ("random", 0, 0.42), ("obd", 1, 0.83)):
        config = {
            "hidden": [300, 100],
            "method": method,
            "schedule": "relative",
            "retrain": True,
            "seed": seed,
            "lr": 0.01,
        }
        h = store.register("prune-ffn", config)
        store.claim(h)
        points = [
            {"step": 0, "zero_fraction": 0.0, "accuracy": 0.97},
            {"step": 5, "zero_fraction": 0.9, "accuracy": acc},
        ]
        store.finish(
            h,
            {"base_accuracy": 0.97, "total_weights": 266200, "points": points},
            metrics=[(1, "accuracy", 0.95), (5, "accuracy", acc)],
        )
    for family in ("watts_strogatz", "barabasi_albert"):
        h = store.register(
            "priors-rnn", {"family": family, "mode": "GRU", "index": 3, "n": 40, "layers": 7}
        )
        store.claim(h)
        store.finish(h, {"test_acc": 0.77, "diameter": 5, "layers": 7})
    store.register("priors-rnn-pack", {"trials": [1, 2]})
    store.close()
    return path


def _list(store_path, capsys, *extra):
    assert main(["results", "list", "--store", str(store_path), *extra]) == 0
    return capsys.readouterr().out


def test_list_shows_the_columns_that_tell_trials_apart_and_the_key_metric(store_path, capsys):
    out = _list(store_path, capsys)
    assert "prune-ffn: 3 trials" in out and "priors-rnn: 2 trials" in out
    for header in (
        "architecture",
        "method",
        "schedule",
        "seed",
        "acc@90%",
        "family",
        "mode",
        "graph",
        "test acc",
    ):
        assert header in out, header
    assert "300-100" in out and "0.81" in out and "0.42" in out and "0.77" in out
    assert "total_weights" not in out and "diameter" not in out  # not priors' graph properties
    assert "priors-rnn-pack" not in out and "1 internal hidden" in out


def test_all_shows_internal_experiments(store_path, capsys):
    assert "priors-rnn-pack" in _list(store_path, capsys, "--all")


def test_where_and_status_filters(store_path, capsys):
    out = _list(store_path, capsys, "--where", "method=obd", "--where", "seed=1")
    assert "prune-ffn: 1 trials" in out and "0.83" in out and "0.42" not in out
    out = _list(store_path, capsys, "--where", "hidden=300-100")
    assert "prune-ffn: 3 trials" in out
    out = _list(store_path, capsys, "--where", "retrain=true", "--status", "done")
    assert "prune-ffn: 3 trials" in out
    assert main(["results", "list", "--store", str(store_path), "--where", "colour=red"]) == 2
    assert "no trial has config key 'colour'" in capsys.readouterr().err
    assert main(["results", "list", "--store", str(store_path), "--where", "method"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_show_prints_config_result_metrics_and_artifacts(store_path, capsys):
    store = TrialStore(store_path)
    target = store.trials("prune-ffn")[0]
    assert main(["results", "show", "--store", str(store_path), target.hash[:8]]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"trial {target.hash} — prune-ffn, done")
    assert "config:\n  hidden: 300,100" in out and "  method: obd" in out
    assert "  points: [2 entries]" in out  # summarised, not dumped
    assert "metrics: 2 rows" in out and "accuracy: 2 steps" in out
    assert "artifacts: none" in out
    assert "{" not in out.split("result:")[1]  # no raw JSON
