"""Layer-wise OBS: saliencies and weight updates equal brute-force least-squares solutions."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn import MaskedDeepFFN
from hiddenstruct.pruning import UnsupportedModelError, make_criterion, prune, resolve_scope
from hiddenstruct.pruning.lobs import invert, obs_joint, obs_sequential, obs_single


def _problem(seed=0, n=40, d=7):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64) + 0.3
    w = torch.randn(d, generator=g, dtype=torch.float64)
    return x, w, x.T @ x / n


def _least_squares(x, w, removed):
    """argmin_w' ‖X(w − w')‖² with w'_S = 0, solved by lstsq on the kept columns."""
    keep = ~removed
    solution = torch.linalg.lstsq(x[:, keep], (x @ w).unsqueeze(1)).solution.reshape(-1)
    out = torch.zeros_like(w)
    out[keep] = solution
    return out


@pytest.mark.parametrize("q", [0, 3, 6])
def test_single_removal_update_is_the_least_squares_optimum(q):
    x, w, h = _problem(seed=q)
    removed = torch.zeros(w.numel(), dtype=torch.bool)
    removed[q] = True
    expected = _least_squares(x, w, removed)
    got = obs_single(w, invert(h), q)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    # the saliency is the layer-wise error that removal causes
    error = float((x @ (w - got)).pow(2).mean())
    assert error == pytest.approx(float(w[q] ** 2 / invert(h)[q, q]), rel=1e-9)
    assert not torch.allclose(got, torch.where(removed, 0.0, w))  # the update moved weights


@pytest.mark.parametrize("removed_idx", [[1], [0, 4], [0, 2, 3, 5, 6], [1, 2, 3, 4, 5, 6]])
def test_joint_and_sequential_removal_equal_least_squares(removed_idx):
    x, w, h = _problem(seed=len(removed_idx))
    removed = torch.zeros(w.numel(), dtype=torch.bool)
    removed[removed_idx] = True
    expected = _least_squares(x, w, removed)
    hinv = invert(h)
    torch.testing.assert_close(obs_joint(w, h, hinv, removed), expected, rtol=0, atol=1e-8)
    for order in (removed_idx, removed_idx[::-1]):
        torch.testing.assert_close(obs_sequential(w, hinv, order), expected, rtol=0, atol=1e-8)


def _model_and_data(seed=0, n=64):
    torch.manual_seed(seed)
    model = MaskedDeepFFN(6, 3, [5]).double()
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(n, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (n,), generator=g)
    return model, x, [(x[:30], y[:30]), (x[30:], y[30:])]


def _layer_inputs(model, x):
    inputs = {}
    hooks = [
        layer.register_forward_pre_hook(lambda m, a, i=i: inputs.__setitem__(i, a[0].detach()))
        for i, layer in enumerate(model.layers)
    ]
    model(x)
    for hook in hooks:
        hook.remove()
    return inputs


@pytest.mark.parametrize("update", ["joint", "sequential"])
def test_prune_updates_every_row_to_the_layerwise_optimum(update):
    model, x, loader = _model_and_data()
    inputs = _layer_inputs(model, x)
    w0 = [layer.weight.detach().clone() for layer in model.layers]
    b0 = [layer.bias.detach().clone() for layer in model.layers]
    report = prune(
        model,
        "lobs",
        "class_uniform",
        0.5,
        data=loader,
        criterion_options={"damping": 0.0, "update": update},
    )
    assert report.details["criterion"] == "lobs" and report.details["samples"] == 64
    for i, layer in enumerate(model.layers):
        a = torch.cat([inputs[i], torch.ones(x.shape[0], 1, dtype=x.dtype)], dim=1)
        mask = layer.parametrizations.weight[0].mask.bool()
        for row in range(mask.shape[0]):
            removed = torch.cat([~mask[row], torch.tensor([False])])
            full = torch.cat([w0[i][row], b0[i][row : row + 1]])
            expected = _least_squares(a, full, removed)
            got = torch.cat([layer.weight[row].detach(), layer.bias[row : row + 1].detach()])
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
        assert not torch.allclose(layer.weight.detach(), w0[i] * mask)  # weights moved


def test_saliency_is_w_squared_over_twice_the_inverse_diagonal():
    model, x, loader = _model_and_data(seed=2)
    inputs = _layer_inputs(model, x)
    targets = resolve_scope(model)
    saliency = make_criterion("lobs", damping=0.0, bias=False).scores(model, targets, loader)
    for i, name in enumerate(targets):
        a = inputs[i]
        hinv = torch.linalg.inv(a.T @ a / a.shape[0])
        w = model.layers[i].weight.detach()
        torch.testing.assert_close(saliency.scores[name], w**2 / (2 * hinv.diagonal()))


def test_lobs_keeps_the_layer_output_closer_than_plain_masking():
    model, x, _ = _model_and_data(seed=3, n=200)
    x = x @ (torch.eye(6, dtype=x.dtype) + 0.8)  # correlated inputs: an update can compensate
    loader = [(x, torch.zeros(x.shape[0], dtype=torch.long))]
    plain = MaskedDeepFFN(6, 3, [5]).double()
    plain.load_state_dict(model.state_dict())
    reference = model.layers[0](x).detach()
    prune(model, "lobs", "class_uniform", 0.6, scope=["layers.0.weight"], data=loader)
    mask = model.layers[0].parametrizations.weight[0].mask
    prune(plain, "magnitude", "class_uniform", 0.0, scope=["layers.0.weight"])
    plain.layers[0].parametrizations.weight[0].mask.copy_(mask)
    err_lobs = (model.layers[0](x) - reference).pow(2).mean()
    err_plain = (plain.layers[0](x) - reference).pow(2).mean()
    assert err_lobs < 0.5 * err_plain


def test_second_step_keeps_earlier_zeros_and_only_shrinks():
    model, _, loader = _model_and_data(seed=4)
    prune(model, "lobs", "class_blinded", 0.3, data=loader)
    first = {n: t.mask().clone() for n, t in resolve_scope(model).items()}
    raw = {n: t.original().detach().clone() for n, t in resolve_scope(model).items()}
    prune(model, "lobs", "class_blinded", 0.3, data=loader)
    for name, t in resolve_scope(model).items():
        assert not torch.any(t.mask().bool() & ~first[name].bool())
        gone = ~first[name].bool()  # the compensating update writes kept entries only
        assert torch.equal(t.original().detach()[gone], raw[name][gone])
        assert not torch.equal(t.original().detach(), raw[name])  # and it did write some


def test_errors_are_one_line_usage_errors():
    model, _, loader = _model_and_data()
    with pytest.raises(UsageError, match="needs data"):
        prune(model, "lobs", "class_blinded", 0.5)
    with pytest.raises(UsageError, match="unknown lobs update"):
        make_criterion("lobs", update="blocks")
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    with pytest.raises(UnsupportedModelError, match="nn.Linear weights only"):
        prune(conv, "lobs", "class_blinded", 0.5, data=[(torch.randn(2, 1, 4, 4), torch.zeros(2))])
    tiny = [(torch.randn(3, 6, dtype=torch.float64), torch.zeros(3, dtype=torch.long))]
    with pytest.raises(UsageError, match="singular"):
        prune(model, "lobs", "class_blinded", 0.5, data=tiny, criterion_options={"damping": 0.0})


def test_sequential_and_joint_updates_agree_across_steps():
    results = []
    for update in ("joint", "sequential"):
        model, _, loader = _model_and_data(seed=5)
        for _ in range(2):
            prune(
                model,
                "lobs",
                "class_blinded",
                0.4,
                data=loader,
                criterion_options={"update": update},
            )
        results.append([layer.weight.detach().clone() for layer in model.layers])
    for joint, sequential in zip(*results, strict=True):
        torch.testing.assert_close(joint, sequential, rtol=0, atol=1e-9)
