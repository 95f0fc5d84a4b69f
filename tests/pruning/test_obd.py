"""OBD: the closed-form Hessian diagonal equals autograd's on tiny nets; fallbacks are explicit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from hiddenstruct.errors import UsageError
from hiddenstruct.nn import MaskedDeepFFN
from hiddenstruct.pruning import UnsupportedModelError, hessian_diagonal, prune, resolve_scope


def _data(seed=0, n=23, features=6, classes=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=g)
    return x, y, [(x[:9], y[:9]), (x[9:], y[9:])]


def _autograd_diag(model, target_name, param_key, x, y):
    w0 = dict(model.named_parameters())[param_key].detach().clone()

    def loss(w):
        return F.cross_entropy(functional_call(model, {param_key: w}, (x,)), y)

    h = torch.autograd.functional.hessian(loss, w0, vectorize=True)
    return h.reshape(w0.numel(), w0.numel()).diagonal().reshape(w0.shape)


@pytest.mark.parametrize("hidden,activation", [([5, 4], "relu"), ([7], "leaky_relu"), ([], "relu")])
def test_exact_diagonal_equals_autograd_hessian(hidden, activation):
    torch.manual_seed(1)
    model = MaskedDeepFFN(6, 3, hidden, activation=activation).double()
    prune(model, "random", "class_blinded", 0.3, seed=2)  # masked entries must read 0
    x, y, loader = _data()
    targets = resolve_scope(model)
    diag, used = hessian_diagonal(model, targets, loader, method="exact")
    assert used == "exact"
    for name, t in targets.items():
        key = f"{name.rpartition('.')[0]}.parametrizations.weight.original"
        expected = _autograd_diag(model, name, key, x, y)
        # the Hessian w.r.t. the unmasked parameter is m ⊙ H ⊙ m: compare on unpruned entries
        mask = t.mask().bool()
        torch.testing.assert_close(diag[name][mask], expected[mask], rtol=1e-9, atol=1e-12)
        assert expected.abs().max() > 0


def test_exact_on_plain_sequential_with_unmasked_linear():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3)).double()
    x, y, loader = _data(seed=4)
    targets = resolve_scope(model)
    diag, used = hessian_diagonal(model, targets, loader, method="auto")
    assert used == "exact"
    expected = _autograd_diag(model, "0.weight", "0.weight", x, y)
    torch.testing.assert_close(diag["0.weight"], expected, rtol=1e-9, atol=1e-12)


def test_non_piecewise_linear_model_falls_back_or_raises():
    model = MaskedDeepFFN(6, 3, [5], activation="tanh").double()
    _, _, loader = _data()
    targets = resolve_scope(model)
    with pytest.raises(UnsupportedModelError, match="tanh"):
        hessian_diagonal(model, targets, loader, method="exact")
    _, used = hessian_diagonal(model, targets, loader, method="auto", probes=2)
    assert used == "hutchinson"


def test_hutchinson_is_seeded_and_unbiased_in_the_mean():
    torch.manual_seed(5)
    model = MaskedDeepFFN(4, 2, [3]).double()
    x, y, _ = _data(n=15, features=4, classes=2)
    loader = [(x, y)]
    targets = resolve_scope(model)
    exact, _ = hessian_diagonal(model, targets, loader, method="exact")
    a, _ = hessian_diagonal(model, targets, loader, method="hutchinson", probes=3, seed=7)
    b, _ = hessian_diagonal(model, targets, loader, method="hutchinson", probes=3, seed=7)
    for n in targets:
        assert torch.equal(a[n], b[n])
    few, _ = hessian_diagonal(model, targets, loader, method="hutchinson", probes=4, seed=1)
    many, _ = hessian_diagonal(model, targets, loader, method="hutchinson", probes=150, seed=1)

    def err(d):
        return sum(float((d[n] - exact[n]).pow(2).sum()) for n in targets)

    assert err(many) < err(few)


def test_fisher_matches_per_sample_gradients():
    torch.manual_seed(6)
    model = MaskedDeepFFN(6, 3, [4]).double()
    x, y, loader = _data()
    targets = resolve_scope(model)
    fisher, used = hessian_diagonal(model, targets, loader, method="fisher")
    assert used == "fisher"
    params = {n: t.original() for n, t in targets.items()}
    expected = {n: torch.zeros_like(p) for n, p in params.items()}
    for i in range(x.shape[0]):
        loss = F.cross_entropy(model(x[i : i + 1]), y[i : i + 1])
        grads = torch.autograd.grad(loss, list(params.values()))
        for n, g in zip(params, grads, strict=True):
            expected[n] += g**2 / x.shape[0]
    for n in targets:
        torch.testing.assert_close(fisher[n], expected[n])


def test_obd_criterion_reports_method_and_needs_data():
    model = MaskedDeepFFN(6, 3, [5]).double()
    _, _, loader = _data()
    report = prune(model, "obd", "class_blinded", 0.25, data=loader)
    assert report.details["hessian_diagonal"] == "exact"
    assert report.pruned == int(0.25 * report.before + 0.5)
    with pytest.raises(UsageError, match="data"):
        prune(model, "obd", "class_blinded", 0.25)
    with pytest.raises(UsageError, match="exact"):
        prune(
            model, "obd", "class_blinded", 0.1, data=loader, criterion_options={"method": "bogus"}
        )


def test_recurrent_model_uses_hutchinson():
    from hiddenstruct.nn import MaskedRNN, SequenceClassifier

    torch.manual_seed(0)
    model = SequenceClassifier(MaskedRNN(4, [5], "LSTM"), vocab_size=16, num_classes=2)
    codes = torch.randint(1, 16, (6, 7))
    lengths = torch.tensor([7, 3, 5, 1, 7, 2])
    labels = torch.randint(0, 2, (6,))
    report = prune(
        model,
        "obd",
        "class_blinded",
        0.2,
        scope="h2h",
        data=[(codes, lengths, labels)],
        criterion_options={"probes": 2, "seed": 3},
    )
    assert report.details["hessian_diagonal"] == "hutchinson"
    assert [t.name for t in report.tensors] == ["rnn.layers.0.weight_hh"]
    assert report.pruned == int(0.2 * report.before + 0.5)


@pytest.mark.parametrize("method", ["exact", "fisher", "lobs"])
def test_linear_only_methods_name_the_offending_tensor_alike(method):
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    data = [(torch.randn(2, 1, 4, 4), torch.zeros(2, dtype=torch.long))]
    text = (
        "supports nn.Linear weights only; 0.weight is the weight of a Conv2d "
        r"\(narrow the scope to Linear layers\)$"
    )
    with pytest.raises(UnsupportedModelError, match=text):
        if method == "lobs":
            prune(conv, "lobs", "class_blinded", 0.5, data=data)
        else:
            hessian_diagonal(conv, resolve_scope(conv), data, method=method)
