"""Global vs per-tensor percentile thresholds; one class-distributed definition; criterion options."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hiddenstruct.errors import UsageError
from hiddenstruct.nn import MaskedRNN, masks
from hiddenstruct.pruning import (
    THRESHOLDS,
    make_criterion,
    percentile_prune,
    prune,
    resolve_scope,
    spread,
)


def _set(model, values: dict[str, torch.Tensor]) -> None:
    """Overwrite the weights of the named targets (masks stay all ones)."""
    targets = resolve_scope(model, "both")
    with torch.no_grad():
        for name, value in values.items():
            target = targets[name]
            param = (
                target.original()
                if name in masks(model)
                else getattr(target.module, target.tensor_name)
            )
            param.copy_(value.reshape(param.shape))


def _hand_made() -> MaskedRNN:
    """One RNN_TANH layer 2 → 2: |w_ih| = 0.1 … 0.4, |w_hh| = 1 … 4 (signs mixed)."""
    model = MaskedRNN(2, [2], "RNN_TANH")
    names = list(resolve_scope(model, "both"))
    ih, hh = sorted(names, key=lambda n: "weight_hh" in n)
    _set(model, {ih: torch.tensor([0.1, -0.2, 0.3, -0.4]), hh: torch.tensor([-1.0, 2, -3, 4])})
    return model


def _alive(model, leaf: str) -> int:
    return sum(int(m.sum()) for n, m in masks(model).items() if n.rpartition(".")[2] == leaf)


def test_global_and_per_tensor_differ_by_a_known_count():
    per_tensor, global_ = _hand_made(), _hand_made()
    a = percentile_prune(per_tensor, 0.5, scope="both", threshold="per-tensor")
    b = percentile_prune(global_, 0.5, scope="both", threshold="global")
    assert a.pruned == b.pruned == 4
    # per tensor: the 2 smallest of each tensor; global: the 4 smallest overall = all of w_ih
    assert (_alive(per_tensor, "weight_ih"), _alive(per_tensor, "weight_hh")) == (2, 2)
    assert (_alive(global_, "weight_ih"), _alive(global_, "weight_hh")) == (0, 4)


def test_single_scope_tensor_makes_both_thresholds_equal():
    a, b = _hand_made(), _hand_made()
    percentile_prune(a, 0.5, scope="h2h", threshold="per-tensor")
    percentile_prune(b, 0.5, scope="h2h", threshold="global")
    assert all(torch.equal(masks(a)[k], masks(b)[k]) for k in masks(a))


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_global_matches_the_authors_percentile_rule(p):
    # rnn/sparse.py: keep |w| >= np.percentile(all |w| in scope, 100 p); with distinct weights
    # and a non-integer percentile position this prunes exactly round(p·n) weights, as ours.
    torch.manual_seed(3)
    model = MaskedRNN(3, [4, 4], "GRU")
    targets = resolve_scope(model, "both")
    weights = {n: t.weight().abs().numpy().copy() for n, t in targets.items()}
    everything = np.concatenate([w.ravel() for w in weights.values()])
    assert len(np.unique(everything)) == everything.size and ((everything.size - 1) * p) % 1
    threshold = np.percentile(everything, 100 * p)
    percentile_prune(model, p, scope="both", threshold="global")
    for name, mask in masks(model).items():
        np.testing.assert_array_equal(mask.numpy(), weights[name] >= threshold)


def test_old_per_tensor_flag_and_unknown_threshold():
    a, b = _hand_made(), _hand_made()
    percentile_prune(a, 0.5, "both", False)
    percentile_prune(b, 0.5, scope="both", threshold="global")
    assert all(torch.equal(masks(a)[k], masks(b)[k]) for k in masks(a))
    with pytest.raises(UsageError, match="valid: global, per-tensor"):
        percentile_prune(_hand_made(), 0.5, threshold="layerwise")
    assert set(THRESHOLDS) == {"global", "per-tensor"}


def test_spread_is_the_std_of_magnitudes_of_unpruned_entries():
    w = torch.tensor([-3.0, 1.0, -1.0, 3.0, 100.0])
    mask = torch.tensor([1, 1, 1, 1, 0], dtype=torch.bool)
    # std of |w| over the alive entries (3, 1, 1, 3) is 2/sqrt(3); the signed std would be ~2.58
    assert spread(w.abs(), mask) == pytest.approx(float(torch.tensor([3.0, 1, 1, 3]).std()))
    assert spread(w.abs(), mask) != pytest.approx(float(w[:4].std()))
    assert spread(torch.ones(3), torch.ones(3, dtype=torch.bool)) == 0.0


def test_distributed_criterion_and_selector_agree():
    torch.manual_seed(1)
    a, b = MaskedRNN(3, [5, 4], "LSTM"), MaskedRNN(3, [5, 4], "LSTM")
    b.load_state_dict(a.state_dict())
    # a first pruning step so that both see partial masks
    prune(a, "magnitude", "class_uniform", 0.3)
    prune(b, "magnitude", "class_uniform", 0.3)
    prune(a, "magnitude_distributed", "class_blinded", 0.4)
    prune(b, "magnitude", "class_distributed", 0.4)
    assert all(torch.equal(masks(a)[k], masks(b)[k]) for k in masks(a))
    # and the choice differs from plain class-blinded magnitude (the scaling matters here)
    c = MaskedRNN(3, [5, 4], "LSTM")
    c.load_state_dict(
        a.state_dict()
        | {k: v.new_ones(v.shape) for k, v in a.state_dict().items() if k.endswith("mask")}
    )
    prune(c, "magnitude", "class_uniform", 0.3)
    prune(c, "magnitude", "class_blinded", 0.4)
    assert any(not torch.equal(masks(a)[k], masks(c)[k]) for k in masks(a))


def test_make_criterion_rejects_unknown_options():
    with pytest.raises(UsageError, match=r"takes no option\(s\) seed; valid: \(none\)"):
        make_criterion("magnitude", seed=3)
    with pytest.raises(UsageError, match="valid: method, probes, seed, max_batches"):
        make_criterion("obd", methd="exact")
    assert make_criterion("random", seed=4).seed == 4
    with pytest.raises(UsageError, match="set them on the instance"):
        make_criterion(make_criterion("random"), seed=1)


def test_prune_passes_its_seed_only_to_seeded_criteria():
    torch.manual_seed(0)
    model = MaskedRNN(2, [3], "GRU")
    report = prune(model, "magnitude", "class_blinded", 0.5, seed=9)  # no error: seed not used
    assert report.pruned > 0
    with pytest.raises(UsageError, match="takes no option"):
        prune(model, "magnitude", "class_blinded", 0.5, criterion_options={"probes": 2})
