"""Trial artifacts: saved beside the store, recorded relative to it, small pruning levels,
safe loading (weights_only), exact restore, listed by `results artifacts`."""

from __future__ import annotations

import pytest
import torch

from hiddenstruct.cli.main import main
from hiddenstruct.errors import HiddenstructError
from hiddenstruct.nn import MaskedDeepFFN, masks
from hiddenstruct.pruning import prune
from hiddenstruct.trials.artifacts import (
    load_artifact,
    pack_mask,
    restore_pruning_level,
    save_pruning_level,
    save_state,
    unpack_mask,
)
from hiddenstruct.trials.executors import run_trials
from hiddenstruct.trials.store import TrialStore


def _model(seed=0):
    torch.manual_seed(seed)
    return MaskedDeepFFN(20, 4, [30, 10])


def test_pack_mask_round_trips_at_one_bit_per_entry():
    mask = torch.rand(37, 13) > 0.4
    packed = pack_mask(mask)
    assert packed["bits"].dtype == torch.uint8 and packed["bits"].numel() == (37 * 13 + 7) // 8
    assert torch.equal(unpack_mask(packed), mask)


def test_level_without_retraining_is_masks_only_and_restores_exactly(tmp_path):
    model = _model()
    base = {k: v.clone() for k, v in model.state_dict().items()}
    prune(model, "magnitude", "class_blinded", 0.7)
    path = save_pruning_level(tmp_path / "level.pt", model, reference=base)
    level = load_artifact(path)  # weights_only=True
    assert level["weights"] == {} and level["tensors"] == {}
    assert path.stat().st_size < 4_000  # (20·30 + 30·10 + 10·4) bits ≈ 120 bytes + overhead
    again = restore_pruning_level(_model(1), path, reference=base)
    x = torch.randn(5, 20)
    assert torch.equal(again(x), model(x))
    assert all(torch.equal(masks(again)[k], v) for k, v in masks(model).items())


def test_level_after_retraining_keeps_changed_surviving_weights(tmp_path):
    model = _model()
    base = {k: v.clone() for k, v in model.state_dict().items()}
    prune(model, "magnitude", "class_blinded", 0.5)
    with torch.no_grad():
        model.layers[0].parametrizations.weight.original.add_(0.01)
        model.layers[0].bias.add_(0.1)
    path = save_pruning_level(tmp_path / "level.pt", model, reference=base)
    level = load_artifact(path)
    assert set(level["weights"]) == {"layers.0.weight"} and set(level["tensors"]) == {
        "layers.0.bias"
    }
    again = restore_pruning_level(_model(1), path, reference=base)
    x = torch.randn(5, 20)
    assert torch.allclose(again(x), model(x))


def _saving_trial(config, log):
    model = _model(config["seed"])
    log.artifact("base", save_state(log.artifact_file("base"), model))
    prune(model, "magnitude", "class_blinded", 0.5)
    log.artifact("level_50", save_pruning_level(log.artifact_file("level_50"), model))
    return {"ok": 1}


def test_trials_record_artifacts_beside_the_store_and_cli_lists_them(tmp_path, capsys):
    store_path = tmp_path / "runs" / "store.sqlite"
    records = run_trials("toy", [{"seed": 0}], _saving_trial, store_path, progress=False)
    trial_hash = records[0].hash
    found = TrialStore(store_path).artifacts(trial_hash)
    assert found == {
        "base": f"artifacts/{trial_hash}/base.pt",
        "level_50": f"artifacts/{trial_hash}/level_50.pt",
    }
    state = load_artifact(store_path.parent / found["base"])
    model = _model(5)
    from hiddenstruct.nn.masking import load_state_dict

    load_state_dict(model, state)
    assert torch.equal(model(torch.ones(1, 20)), _model(0)(torch.ones(1, 20)))
    # resume: the done trial is skipped, its artifacts stay
    run_trials("toy", [{"seed": 0}], _saving_trial, store_path, progress=False)
    assert TrialStore(store_path).artifacts(trial_hash) == found
    assert main(["results", "artifacts", "--store", str(store_path), trial_hash[:8]]) == 0
    out = capsys.readouterr().out
    assert "2 artifacts" in out and "base.pt" in out and "MISSING" not in out and "bytes" in out


def test_unmasked_reference_state_also_spares_unchanged_weights(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(6, 4))
    base = {k: v.clone() for k, v in model.state_dict().items()}  # plain keys: 0.weight
    prune(model, "magnitude", "class_blinded", 0.5)
    level = load_artifact(save_pruning_level(tmp_path / "l.pt", model, reference=base))
    assert level["weights"] == {} and level["tensors"] == {}


def test_prune_experiments_keep_base_and_every_pruning_level(tmp_path):
    from hiddenstruct.experiments import registry
    from hiddenstruct.trials.artifacts import resolve_artifact

    store_path = tmp_path / "runs" / "store.sqlite"
    config = registry.make_config(
        "prune-ffn", "demo", methods=("class_blinded",), retrain=(True,), epochs=2
    )
    registry.run_experiment("prune-ffn", config, store_path, tmp_path / "out", progress=False)
    store = TrialStore(store_path)
    (trial,) = store.trials("prune-ffn")
    found = store.artifacts(trial.hash)
    steps = [p["step"] for p in trial.result["points"] if p["step"] > 0]
    assert sorted(found) == ["base"] + [f"level_{s:03d}" for s in steps]
    assert all(resolve_artifact(store_path, p).is_file() for p in found.values())
    last = trial.result["points"][-1]
    base = load_artifact(resolve_artifact(store_path, found["base"]))
    model = restore_pruning_level(
        MaskedDeepFFN(64, 10, [100]),
        resolve_artifact(store_path, found[f"level_{last['step']:03d}"]),
        base,
    )
    total = sum(m.numel() for m in masks(model).values())
    zeros = sum(int((m == 0).sum()) for m in masks(model).values())
    assert zeros == round(last["zero_fraction"] * total)


def test_priors_save_models_on_request(tmp_path):
    from hiddenstruct.experiments import registry
    from hiddenstruct.experiments.priors_rnn.experiment import build_graph
    from hiddenstruct.nn.packed import graph_classifier
    from hiddenstruct.trials.artifacts import resolve_artifact

    store_path = tmp_path / "store.sqlite"
    config = registry.make_config("priors-rnn", "demo", save_models=True, count=2, epochs=1)
    registry.run_experiment("priors-rnn", config, store_path, tmp_path / "out", progress=False)
    store = TrialStore(store_path)
    trials = store.trials("priors-rnn", status="done")
    assert trials and all(set(store.artifacts(t.hash)) == {"model"} for t in trials)
    t = trials[0]
    state = load_artifact(resolve_artifact(store_path, store.artifacts(t.hash)["model"]))
    model = graph_classifier(build_graph(t.config), t.config["mode"], seed=0)
    from hiddenstruct.nn.masking import load_state_dict

    load_state_dict(model, state)  # the saved model is the trained graph's classifier
    default = registry.make_config("priors-rnn", "demo", count=2, epochs=1)
    assert registry.get_experiment("priors-rnn").identities(default) == (
        registry.get_experiment("priors-rnn").identities(config)
    )  # a runtime option: same trials


def test_nas_keeps_the_best_candidate_model(tmp_path):
    from hiddenstruct.experiments import registry
    from hiddenstruct.experiments.nas.sweep import best_trial_config
    from hiddenstruct.nas.genotype import Genotype
    from hiddenstruct.nas.phenotype import compile as compile_genotype
    from hiddenstruct.trials.artifacts import resolve_artifact
    from hiddenstruct.trials.identity import trial_identity

    store_path = tmp_path / "store.sqlite"
    config = registry.make_config(
        "nas", "demo", searches=("no_prediction",), generations=1, epochs=1
    )
    module = registry.get_experiment("nas")
    results = module.sweep(config, TrialStore(store_path), progress=False)
    best = best_trial_config(config, results)
    trial_hash = trial_identity("nas", best)
    store = TrialStore(store_path)
    found = store.artifacts(trial_hash)
    assert set(found) == {"model"}
    state = load_artifact(resolve_artifact(store_path, found["model"]))
    model = compile_genotype(
        Genotype.from_dict(best["genotype"]), (1, 8, 8), 10, config.max_channels
    )
    model.load_state_dict(state)
    others = [t for t in store.trials("nas") if t.hash != trial_hash]
    assert others and all(store.artifacts(t.hash) == {} for t in others)


def test_artifact_files_follow_the_umask_like_every_other_output(tmp_path):
    import os

    old = os.umask(0o077)
    try:
        path = save_state(tmp_path / "base.pt", torch.nn.Linear(2, 2))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o600  # was a hard-coded 0o644


class _Planted:
    def __reduce__(self):  # would run a command if unpickled without weights_only
        import os

        return (os.system, ("touch PLANTED",))


def test_an_artifact_that_cannot_be_loaded_names_the_file_and_the_cause(tmp_path, monkeypatch):
    """A poisoned or damaged artifact is one message naming file and cause."""
    monkeypatch.chdir(tmp_path)
    poisoned, truncated = tmp_path / "poisoned.pt", tmp_path / "truncated.pt"
    torch.save({"w": _Planted()}, poisoned)
    truncated.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(HiddenstructError, match=r"poisoned\.pt: it holds objects other than ten"):
        load_artifact(poisoned)
    with pytest.raises(HiddenstructError, match=r"truncated\.pt: damaged or not a torch file"):
        load_artifact(truncated)
    with pytest.raises(HiddenstructError, match=r"missing\.pt: the file is missing"):
        load_artifact(tmp_path / "missing.pt")
    assert not (tmp_path / "PLANTED").exists()
