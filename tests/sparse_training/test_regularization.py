"""L1 / group lasso + magnitude threshold: masks only shrink, density falls."""

from __future__ import annotations

import pytest
import torch

from hiddenstruct.errors import UsageError
from hiddenstruct.sparse_training import GroupLassoPenalty, L1Penalty, MagnitudeThreshold
from hiddenstruct.training import train
from hiddenstruct.training.loop import StepContext, _default_loss


@pytest.mark.parametrize(
    "penalty, granularity", [(L1Penalty, "weight"), (GroupLassoPenalty, "neuron")]
)
def test_l1_route_masks_only_shrink(make_ffn, loader, snapshot, penalty, granularity):
    net = make_ffn(0)
    threshold = MagnitudeThreshold(net, 0.02 if granularity == "weight" else 0.1, granularity)
    seen = [snapshot(net)]

    def record(metrics, model):
        seen.append(snapshot(model))

    train(
        net,
        loader,
        epochs=4,
        lr=1e-2,
        step_hooks=[penalty(net, 3e-3)],
        callbacks=[threshold, record],
        progress=False,
        device="cpu",
    )
    for old, new in zip(seen[:-1], seen[1:], strict=True):
        for key in old:
            assert not torch.any(new[key] & ~old[key])  # nothing comes back
    live = [sum(int(m.sum()) for m in s.values()) for s in seen]
    assert live[-1] < live[0]  # and something was removed
    assert [h["live"] for h in threshold.history] == live[1:]


def test_l1_penalty_adds_the_subgradient(make_ffn, loader):
    net = make_ffn(0)
    x, y = next(iter(loader))
    _default_loss(net(x), y).backward()
    weights = [layer.parametrizations.weight.original for layer in net.layers]
    before = [w.grad.clone() for w in weights]
    ctx = StepContext(1, 1, net, None, [x], y, _default_loss, 1)
    L1Penalty(net, 0.5).before_step(ctx)
    for w, grad in zip(weights, before, strict=True):
        assert torch.allclose(w.grad, grad + 0.5 * torch.sign(w))


def test_group_lasso_gradient_is_the_row_direction(make_ffn, loader):
    net = make_ffn(0)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    GroupLassoPenalty(net, 1.0).before_step(None)
    w = net.layers[0].parametrizations.weight.original
    expected = w / w.norm(dim=1, keepdim=True) * w.shape[1] ** 0.5
    assert torch.allclose(w.grad, expected, atol=1e-6)


def test_neuron_threshold_removes_whole_rows(make_ffn):
    net = make_ffn(0)
    w = net.layers[0].parametrizations.weight.original
    with torch.no_grad():
        w[3].mul_(1e-4)
    MagnitudeThreshold(net, 0.01, "neuron")()
    mask = net.layers[0].parametrizations.weight[0].mask
    assert torch.all(mask[3] == 0) and torch.all(mask[[0, 1, 2]] == 1)


def test_bad_strength_threshold_and_granularity_are_usage_errors(make_ffn):
    with pytest.raises(UsageError, match="strength"):
        L1Penalty(make_ffn(0), -1.0)
    with pytest.raises(UsageError, match="threshold"):
        MagnitudeThreshold(make_ffn(0), float("nan"))
    with pytest.raises(UsageError, match="neuron"):
        MagnitudeThreshold(make_ffn(0), 0.1, "channel")


def test_threshold_never_goes_below_min_live(make_ffn):
    net = make_ffn(0)
    total = sum(layer.weight.numel() for layer in net.layers)
    threshold = MagnitudeThreshold(net, 10.0, min_live=100)  # would remove everything
    threshold()
    masks = [layer.parametrizations.weight[0].mask for layer in net.layers]
    assert sum(int(m.sum()) for m in masks) == 100 < total
    kept = torch.cat(
        [
            (layer.weight.detach()[m.bool()]).abs()
            for layer, m in zip(net.layers, masks, strict=True)
        ]
    )
    dropped = torch.cat(
        [
            layer.parametrizations.weight.original.detach()[~m.bool()].abs()
            for layer, m in zip(net.layers, masks, strict=True)
        ]
    )
    assert kept.min() >= dropped.max()  # class-blinded: the largest magnitudes survive
