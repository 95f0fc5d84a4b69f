"""SET / RigL / sparse momentum: invariants of every mask update."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hiddenstruct.errors import UsageError
from hiddenstruct.nn import MaskedRNN, SequenceClassifier
from hiddenstruct.nn.masking import remove_mask
from hiddenstruct.sparse_training import (
    METHODS,
    RigL,
    SparseMomentum,
    dense_gradients,
    init_sparse_masks,
    make_method,
    sparse_layers,
)
from hiddenstruct.training import train
from hiddenstruct.training.loop import StepContext, StepHook, _default_loss


class UpdateChecker(StepHook):
    """Runs after the method: checks every invariant at every step, logs regrowth."""

    def __init__(self, method, per_layer_constant: bool) -> None:
        self.method = method
        self.per_layer_constant = per_layer_constant
        self.before: list[torch.Tensor] = []
        self.counts = [layer.live for layer in method.layers]
        self.regrown = 0
        self.dropped = 0

    def before_step(self, ctx: StepContext) -> None:
        self.before = [layer.mask.clone().bool() for layer in self.method.layers]

    def after_step(self, ctx: StepContext) -> None:
        method = self.method
        assert method.live == method.target_live  # exact density after every step
        for i, layer in enumerate(method.layers):
            new, old = layer.mask.bool(), self.before[i]
            assert torch.all((layer.weight * layer.mask)[~new] == 0)
            grown, dropped = new & ~old, old & ~new
            self.regrown += int(grown.sum())
            self.dropped += int(dropped.sum())
            # regrown this step: weight exactly 0 and fresh optimizer state
            assert torch.all(layer.weight[grown] == 0)
            assert torch.all(layer.weight[dropped] == 0)
            for value in ctx.optimizer.state[layer.weight].values():
                if isinstance(value, torch.Tensor) and value.shape == layer.weight.shape:
                    assert torch.all(value[grown | dropped] == 0)
            if self.per_layer_constant:
                assert layer.live == self.counts[i]


def _run(make_ffn, loader, method_name, optimizer="adam", seed=0, epochs=3, **options):
    net = make_ffn(0)
    init_sparse_masks(net, 0.25, "erdos_renyi", seed=0)
    method = make_method(method_name, net, update_every=3, seed=seed, **options)
    checker = UpdateChecker(method, per_layer_constant=method_name != "sparse_momentum")
    opt_options = {"momentum": 0.9} if optimizer == "sgd" else {}
    train(
        net,
        loader,
        epochs=epochs,
        optimizer=optimizer,
        lr=0.05 if optimizer == "sgd" else 1e-2,
        optimizer_options=opt_options,
        step_hooks=[method, checker],
        progress=False,
        device="cpu",
    )
    if isinstance(method, SparseMomentum):
        method.close()
    return net, method, checker


@pytest.mark.parametrize("method_name", sorted(METHODS))
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_density_exact_and_regrown_weights_fresh_after_every_update(
    make_ffn, loader, method_name, optimizer
):
    net, method, checker = _run(make_ffn, loader, method_name, optimizer)
    assert method.updates >= 3
    assert checker.regrown > 0 and checker.regrown == checker.dropped  # topology did change


def test_update_resets_only_changed_optimizer_state(make_ffn, loader):
    net = make_ffn(0)
    init_sparse_masks(net, 0.3, seed=0)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y = next(iter(loader))
    net(x).sum().backward()
    optimizer.step()  # creates the state
    for state in optimizer.state.values():
        for key in ("exp_avg", "exp_avg_sq"):
            state[key].fill_(1.0)
    method = METHODS["set"](net, seed=0)
    before = [layer.mask.clone().bool() for layer in method.layers]
    ctx = StepContext(1, 1, net, optimizer, [x], y, _default_loss, 10)
    method.update(0.3, ctx)
    for layer, old in zip(method.layers, before, strict=True):
        changed = old ^ layer.mask.bool()
        assert changed.any()
        state = optimizer.state[layer.weight]
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.all(state[key][changed] == 0)
            assert torch.all(state[key][~changed] == 1)  # untouched elsewhere


@pytest.mark.parametrize("method_name", sorted(METHODS))
def test_same_seed_same_masks(make_ffn, loader, snapshot, method_name):
    first, _, _ = _run(make_ffn, loader, method_name, seed=5, epochs=2)
    second, _, _ = _run(make_ffn, loader, method_name, seed=5, epochs=2)
    a, b = snapshot(first), snapshot(second)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_set_other_seed_gives_other_masks(make_ffn, loader, snapshot):
    a = snapshot(_run(make_ffn, loader, "set", seed=1, epochs=2)[0])
    b = snapshot(_run(make_ffn, loader, "set", seed=2, epochs=2)[0])
    assert not all(torch.equal(a[k], b[k]) for k in a)


def test_dense_gradients_equal_those_of_an_unmasked_copy(make_ffn, loader):
    net = make_ffn(0)
    layers = init_sparse_masks(net, 0.3, seed=0)
    x, y = next(iter(loader))
    grads = dense_gradients(net, layers, [x], y, _default_loss)
    dense = copy.deepcopy(net)
    for layer in sparse_layers(dense):
        remove_mask(layer.module, layer.tensor_name)
    nn.functional.cross_entropy(dense(x), y).backward()
    for g, linear in zip(grads, dense.layers, strict=True):
        assert torch.allclose(g, linear.weight.grad, atol=1e-6)
        assert (g[layers[0].mask == 0] != 0).any() if g.shape == layers[0].mask.shape else True
    assert all(p.grad is None for p in net.parameters())  # .grad untouched


def test_rigl_grows_the_zeros_with_largest_gradient(make_ffn, loader):
    net = make_ffn(0)
    init_sparse_masks(net, 0.3, seed=0)
    method = RigL(net, stop_step=100)
    x, y = next(iter(loader))
    before = [layer.mask.clone().bool() for layer in method.layers]
    grads = dense_gradients(net, method.layers, [x], y, _default_loss)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    method.update(0.2, StepContext(1, 1, net, optimizer, [x], y, _default_loss, 100))
    for layer, old, g in zip(method.layers, before, grads, strict=True):
        grown = layer.mask.bool() & ~old
        k = int(grown.sum())
        assert k > 0
        best = torch.topk(g.abs().masked_fill(old, -1).reshape(-1), k).values.min()
        assert torch.all(g.abs()[grown] >= best - 1e-12)


def test_rigl_stops_updating_at_the_stop_step(make_ffn, loader):
    net, method, _ = _run(make_ffn, loader, "rigl", epochs=4, stop_step=10)
    assert method.updates == 3  # steps 3, 6, 9
    assert method.fraction_at(5) == pytest.approx(0.15)  # half-way to the stop step


def test_sparse_momentum_redistributes_budget_by_mean_momentum(make_ffn, loader):
    net = make_ffn(0)
    init_sparse_masks(net, 0.3, seed=0)
    with SparseMomentum(net) as method:
        for i, m in enumerate(method.momenta):
            m.fill_(10.0 if i == 0 else 0.1)
        capacity = [layer.numel - layer.live for layer in method.layers]
        grown = method.grow_counts([10, 10, 10], capacity)
    assert sum(grown) == 30 and grown[0] > grown[1] and grown[0] > grown[2]
    assert not method.recorder.handles
    hooks = [len(m._forward_hooks) for m in net.modules() if type(m).__name__ == "Mask"]
    assert hooks and not any(hooks)  # no hook left behind on the masks
    copy.deepcopy(net)


def test_sparse_momentum_moves_weights_between_layers(make_ffn, loader):
    net, method, checker = _run(make_ffn, loader, "sparse_momentum", epochs=3)
    counts = [layer.live for layer in method.layers]
    assert counts != checker.counts and sum(counts) == sum(checker.counts)


def test_gru_classifier_i2h_and_h2h_stay_at_density():
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(1, 8, (32, 6), generator=g)
    y = (codes[:, 0] > 4).long()
    loader = DataLoader(TensorDataset(codes, torch.full((32,), 6), y), batch_size=8)
    model = SequenceClassifier(MaskedRNN(4, [6], "gru"), vocab_size=8)
    layers = init_sparse_masks(model, 0.4, "erdos_renyi", seed=0)
    assert [layer.name for layer in layers] == ["rnn.layers.0.weight_ih", "rnn.layers.0.weight_hh"]
    method = RigL(model, update_every=2)
    checker = UpdateChecker(method, per_layer_constant=True)
    train(model, loader, epochs=2, step_hooks=[method, checker], progress=False, device="cpu")
    assert method.updates == 2 and checker.regrown > 0  # steps 2, 4; stop at 0.75 · 8 = 6


def test_conv_model_trains_sparsely():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 1, 6, 6, generator=g)
    y = torch.randint(0, 2, (16,), generator=g)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(48, 2))
    init_sparse_masks(model, 0.5, seed=0)
    method = METHODS["set"](model, update_every=1)
    checker = UpdateChecker(method, per_layer_constant=True)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    train(model, loader, epochs=1, step_hooks=[method, checker], progress=False, device="cpu")
    assert method.updates == 4 and checker.regrown > 0


def test_unknown_method_and_bad_options_are_usage_errors(make_ffn):
    with pytest.raises(UsageError, match="rigl"):
        make_method("dsr", make_ffn(0))
    with pytest.raises(UsageError, match="update_every"):
        make_method("set", make_ffn(0), update_every=0)
