"""Trial artifacts: saved beside the store, recorded relative to it, small pruning levels,
safe loading (weights_only), exact restore, listed by `results artifacts`."""

from __future__ import annotations

import torch

from hiddenstruct.cli.main import main
from hiddenstruct.experiments.artifacts import (
    load_artifact,
    pack_mask,
    restore_pruning_level,
    save_pruning_level,
    save_state,
    unpack_mask,
)
from hiddenstruct.experiments.executors import run_trials
from hiddenstruct.experiments.store import TrialStore
from hiddenstruct.nn import MaskedDeepFFN, masks
from hiddenstruct.pruning import prune


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
