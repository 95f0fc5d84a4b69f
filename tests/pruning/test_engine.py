"""Engine: scopes, exact counts, seeded random pruning, iterative loop, retraining, rewinding."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn import MaskedDeepFFN, MaskedRNN, SequenceClassifier, masks
from hiddenstruct.pruning import (
    RetrainPolicy,
    StopCriteria,
    fixed_size,
    iterative_prune,
    one_shot,
    percentile_prune,
    prune,
    relative,
    resolve_scope,
    snapshot_weights,
)


def _ffn(seed=0):
    torch.manual_seed(seed)
    return MaskedDeepFFN(8, 3, [6, 5])


def _rnn(mode="LSTM", seed=0):
    torch.manual_seed(seed)
    return SequenceClassifier(MaskedRNN(4, [5, 5], mode), vocab_size=16, num_classes=2)


def _alive(model):
    return {k: int(v.sum()) for k, v in masks(model).items()}


def test_class_blinded_half_of_all_scoped_weights_and_report():
    model = _ffn()
    total = sum(p.numel() for p in masks(model).values())
    report = prune(model, "magnitude", "class_blinded", 0.5)
    assert sum(_alive(model).values()) == total // 2 == report.after
    assert report.before == report.total == total
    assert report.zero_fraction_after == pytest.approx(0.5, abs=1 / total)
    assert [t.name for t in report.tensors] == [
        "layers.0.weight",
        "layers.1.weight",
        "layers.2.weight",
    ]
    # effective weights really are zero where masked
    for name, mask in masks(model).items():
        weight = model.get_submodule(name.rpartition(".")[0]).weight
        assert torch.all(weight[mask == 0] == 0)


def test_class_uniform_leaves_half_in_each_tensor():
    model = _ffn()
    prune(model, "magnitude", "class_uniform", 0.5)
    for _name, mask in masks(model).items():
        assert int(mask.sum()) == (mask.numel() + 1) // 2 or int(mask.sum()) == mask.numel() // 2


def test_unmasked_linear_gets_mask_and_biases_and_embeddings_are_never_in_scope():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(8, 3))
    targets = resolve_scope(model)
    assert list(targets) == ["2.weight"]
    prune(model, "magnitude", "class_blinded", 10)
    assert _alive(model) == {"2.weight": 14}


def test_random_pruning_is_reproducible_by_seed():
    a, b, c = _ffn(), _ffn(), _ffn()
    prune(a, "random", "class_blinded", 0.4, seed=11)
    prune(b, "random", "class_blinded", 0.4, seed=11)
    prune(c, "random", "class_blinded", 0.4, seed=12)
    ma, mb, mc = masks(a), masks(b), masks(c)
    assert all(torch.equal(ma[k], mb[k]) for k in ma)
    assert any(not torch.equal(ma[k], mc[k]) for k in ma)


@pytest.mark.parametrize("scope,prefix", [("i2h", "weight_ih"), ("h2h", "weight_hh")])
@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_RELU"])
def test_recurrent_scopes_touch_only_their_tensors(scope, prefix, mode):
    model = _rnn(mode)
    before = {k: v.clone() for k, v in masks(model).items()}
    state = copy.deepcopy(model.state_dict())
    report = percentile_prune(model, 0.6, scope=scope)
    after = masks(model)
    assert report.tensors and all(
        t.name.rpartition(".")[2].startswith(prefix) for t in report.tensors
    )
    for name in after:
        leaf = name.rpartition(".")[2]
        if leaf.startswith(prefix):
            assert int(after[name].sum()) == after[name].numel() - int(
                0.6 * after[name].numel() + 0.5
            )
        else:
            assert torch.equal(after[name], before.get(name, torch.ones_like(after[name])))
    assert "readout.weight" not in after and "embedding.weight" not in after
    # parameters themselves untouched (only masks change)
    for key, value in model.state_dict().items():
        if not key.endswith(".mask"):
            assert torch.equal(value, state[key])


def test_both_scope_prunes_every_gate_tensor():
    model = _rnn("GRU")
    report = percentile_prune(model, 0.3, scope="both")
    names = {t.name.rpartition(".")[2] for t in report.tensors}
    assert names == {"weight_ih", "weight_hh"}
    assert len(report.tensors) == 4


def test_unknown_scope_lists_valid_ones():
    with pytest.raises(UsageError, match="h2h"):
        resolve_scope(_rnn(), "gates")
    with pytest.raises(UsageError, match="selects no tensor"):
        resolve_scope(_ffn(), "h2h")


def _toy_data(seed=0, n=96):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return [(x[i : i + 32], y[i : i + 32]) for i in range(0, n, 32)]


def _epoch_fn(optimizer):
    def train_epoch(model):
        model.train()
        for x, y in _toy_data():
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()

    return train_epoch


def _accuracy(model):
    with torch.no_grad():
        batches = _toy_data()
        return sum(int((model(x).argmax(1) == y).sum()) for x, y in batches) / 96


def test_iterative_relative_masks_shrink_and_retraining_never_revives():
    model = _ffn()
    opt = torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=0.1)
    _epoch_fn(opt)(model)
    history = []

    def on_step(step):
        history.append({k: v.clone() for k, v in masks(model).items()})

    result = iterative_prune(
        model,
        "magnitude",
        "class_blinded",
        relative(0.3),
        stop=StopCriteria(target_zero_fraction=0.9),
        evaluate=_accuracy,
        retrain_policy=RetrainPolicy("fixed", epochs=2),
        train_epoch=_epoch_fn(opt),
        on_step=on_step,
    )
    total = result.steps[0].total
    assert result.stop_reason == "size_reached"
    assert result.steps[-1].remaining == total - round(0.9 * total)
    remaining = total
    for step, _snapshot in zip(result.steps, history, strict=True):
        assert step.pruned == min(
            int(0.3 * remaining + 0.5), remaining - (total - round(0.9 * total))
        )
        remaining = step.remaining
        assert len(step.accuracy_retrained) == 2
    for older, newer in zip(history, history[1:], strict=False):
        for k in older:
            assert not torch.any((newer[k] == 1) & (older[k] == 0))
    # after retraining with momentum and weight decay, masked weights are still exactly zero
    for name, mask in masks(model).items():
        assert torch.all(model.get_submodule(name.rpartition(".")[0]).weight[mask == 0] == 0)


def test_fixed_size_and_recover_mode_and_accuracy_stop():
    model = _ffn(1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = iterative_prune(
        model,
        "magnitude",
        "class_uniform",
        fixed_size(20),
        stop=StopCriteria(max_steps=3),
        evaluate=_accuracy,
        retrain_policy=RetrainPolicy("recover", epochs=3, tolerance=1.0),
        train_epoch=_epoch_fn(opt),
    )
    assert [s.pruned for s in result.steps] == [20, 20, 20]
    assert all(
        len(s.accuracy_retrained) == 1 for s in result.steps
    )  # tolerance 1.0: recovered at once
    dropped = iterative_prune(
        _ffn(2),
        "random",
        "class_blinded",
        relative(0.5),
        seed=0,
        stop=StopCriteria(max_accuracy_drop=-1.0),
        evaluate=_accuracy,
    )
    assert dropped.stop_reason == "accuracy_drop" and len(dropped.steps) == 1
    once = iterative_prune(_ffn(2), "magnitude", "class_blinded", one_shot(0.25))
    assert len(once.steps) == 1 and once.stop_reason == "schedule"


def test_rewinding_restores_initial_values_of_survivors():
    model = _ffn(3)
    init = snapshot_weights(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    _epoch_fn(opt)(model)
    iterative_prune(model, "magnitude", "class_blinded", one_shot(0.5), rewind_to=init)
    now = snapshot_weights(model)
    assert all(torch.equal(now[k], init[k]) for k in init)
    assert sum(_alive(model).values()) == sum(m.numel() for m in masks(model).values()) // 2


def test_scope_by_names_and_predicate_and_distributed_criterion():
    from hiddenstruct.pruning import make_criterion

    model = _ffn(4)
    report = prune(model, "magnitude", "class_blinded", 0.5, scope=["layers.1.weight"])
    assert [t.name for t in report.tensors] == ["layers.1.weight"]
    assert _alive(model)["layers.0.weight"] == 48 and _alive(model)["layers.1.weight"] == 15
    targets = resolve_scope(model, lambda name, module, leaf: name.startswith("layers.2"))
    assert list(targets) == ["layers.2.weight"]
    saliency = make_criterion("magnitude_distributed").scores(model, resolve_scope(model))
    w = model.layers[0].weight.detach().double()
    torch.testing.assert_close(saliency.scores["layers.0.weight"], w.abs() / w.abs().std())
    with pytest.raises(UsageError, match="magnitude"):
        make_criterion("saliency-of-my-dreams")


def test_relative_schedule_reaches_a_tiny_remainder():
    model = nn.Sequential(nn.Linear(3, 2))
    result = iterative_prune(
        model,
        "magnitude",
        "class_blinded",
        relative(0.2),
        stop=StopCriteria(target_zero_fraction=1.0),
    )
    assert result.steps[-1].remaining == 0
    assert all(step.pruned >= 1 for step in result.steps)
