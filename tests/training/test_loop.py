"""Training loop: learns, stops early, clips gradients, callbacks, registry errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hiddenstruct.errors import UsageError
from hiddenstruct.training import (
    OPTIMIZERS,
    evaluate,
    make_optimizer,
    seed_everything,
    torch_threads,
    train,
)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one intra-op thread avoids thread spinning on a shared CI machine."""
    with torch_threads(1):
        yield


def separable_loader(n: int = 256, seed: int = 0, batch_size: int = 32) -> DataLoader:
    """Two Gaussian blobs far apart: a linearly separable two-class problem."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 4, generator=g) + (y.float() * 2 - 1).unsqueeze(1) * 3.0
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False)


def small_model(seed: int = 0) -> nn.Module:
    seed_everything(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_reaches_high_accuracy_on_separable_problem(optimizer):
    model = small_model()
    loader = separable_loader()
    history = train(
        model, loader, epochs=15, optimizer=optimizer, lr=0.05, device="cpu", progress=False
    )
    assert history.final.train_accuracy > 0.9
    held_out = evaluate(model, separable_loader(seed=1))
    assert held_out.accuracy > 0.9
    assert held_out.n == 256
    assert history.epochs[-1].train_loss < history.epochs[0].train_loss


def test_same_seed_same_history():
    runs = []
    for _ in range(2):
        model = small_model(seed=3)
        runs.append(train(model, separable_loader(), epochs=3, lr=0.01, device="cpu").to_dicts())
    for a, b in zip(*runs, strict=True):
        assert a["train_loss"] == b["train_loss"]
        assert a["train_accuracy"] == b["train_accuracy"]


def test_early_stopping_on_target_accuracy_uses_validation():
    model = small_model()
    history = train(
        model,
        separable_loader(),
        epochs=50,
        lr=0.05,
        val_loader=separable_loader(seed=2),
        target_accuracy=0.9,
        device="cpu",
    )
    assert history.stop_reason == "target_accuracy"
    assert history.stopped_early
    assert len(history.epochs) < 50
    assert history.final.val_accuracy >= 0.9
    # every earlier epoch was below the target (otherwise it would have stopped there)
    assert all(e.val_accuracy < 0.9 for e in history.epochs[:-1])


def test_early_stopping_without_validation_uses_train_accuracy():
    model = small_model()
    history = train(
        model, separable_loader(), epochs=50, lr=0.05, target_accuracy=0.95, device="cpu"
    )
    assert history.stop_reason == "target_accuracy"
    assert math.isnan(history.final.val_accuracy)
    assert history.final.train_accuracy >= 0.95


def test_callback_sees_every_epoch_and_can_stop():
    seen = []

    def callback(metrics, model):
        seen.append(metrics.epoch)
        assert isinstance(model, nn.Module)
        return metrics.epoch == 3

    history = train(
        small_model(), separable_loader(), epochs=10, callbacks=[callback], device="cpu"
    )
    assert seen == [1, 2, 3]
    assert history.stop_reason == "callback"
    assert len(history.epochs) == 3


def _grad_norm(model: nn.Module) -> float:
    grads = [p.grad.flatten() for p in model.parameters() if p.grad is not None]
    return float(torch.cat(grads).norm())


def test_gradient_clipping_bounds_norm():
    # a large-scale input makes raw gradients huge; clipped ones must respect the bound
    x = torch.randn(64, 4) * 1000
    y = torch.randint(0, 2, (64,))
    loader = DataLoader(TensorDataset(x, y), batch_size=64)
    unclipped = small_model()
    train(unclipped, loader, epochs=1, optimizer="sgd", lr=0.0, device="cpu")
    assert _grad_norm(unclipped) > 1.0
    clipped = small_model()
    train(clipped, loader, epochs=1, optimizer="sgd", lr=0.0, clip_grad_norm=0.5, device="cpu")
    assert _grad_norm(clipped) <= 0.5 + 1e-5


def test_scheduler_changes_learning_rate_per_epoch():
    history = train(
        small_model(),
        separable_loader(),
        epochs=3,
        lr=0.1,
        optimizer="sgd",
        scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
        device="cpu",
    )
    assert [e.lr for e in history.epochs] == pytest.approx([0.1, 0.05, 0.025])


def test_sgd_momentum_option_and_callable_factory():
    model = small_model()
    opt = make_optimizer("sgd", model.parameters(), lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["momentum"] == 0.9
    history = train(
        model,
        separable_loader(),
        epochs=1,
        optimizer=lambda p: torch.optim.RMSprop(p, lr=0.01),
        device="cpu",
    )
    assert len(history.epochs) == 1


def test_unknown_optimizer_lists_valid_names():
    with pytest.raises(UsageError, match="adam"):
        make_optimizer("adamax-typo", small_model().parameters(), lr=0.1)


def test_masked_weights_stay_zero_during_training():
    from hiddenstruct.nn import apply_mask

    model = small_model()
    mask = (torch.rand(8, 4, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    apply_mask(model[0], "weight", mask)
    train(model, separable_loader(), epochs=2, lr=0.05, device="cpu")
    assert torch.all(model[0].weight[mask == 0] == 0)


def test_sequence_model_called_with_all_inputs():
    class SeqModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.out = nn.Linear(4, 2)

        def forward(self, codes, lengths):
            mask = torch.arange(codes.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
            summed = (self.emb(codes) * mask.unsqueeze(-1)).sum(1) / lengths.unsqueeze(1)
            return self.out(summed)

    codes = torch.randint(1, 10, (32, 5))
    lengths = torch.randint(1, 6, (32,))
    labels = (codes[:, 0] > 5).long()
    loader = DataLoader(TensorDataset(codes, lengths, labels), batch_size=8)
    history = train(SeqModel(), loader, epochs=2, device="cpu")
    assert history.final is not None


def test_bad_arguments_raise_usage_errors():
    with pytest.raises(UsageError, match="epochs"):
        train(small_model(), separable_loader(), epochs=-1)
    with pytest.raises(UsageError, match="clip_grad_norm"):
        train(small_model(), separable_loader(), epochs=1, clip_grad_norm=0)
    empty = DataLoader(
        TensorDataset(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)), batch_size=4
    )
    with pytest.raises(UsageError, match="no batches"):
        train(small_model(), empty, epochs=1, device="cpu")


def test_evaluate_restores_training_mode_and_handles_empty():
    model = small_model().train()
    evaluate(model, separable_loader())
    assert model.training
    empty = DataLoader(
        TensorDataset(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)), batch_size=4
    )
    result = evaluate(model, empty)
    assert result.n == 0 and math.isnan(result.accuracy)


def test_forced_progress_display_runs(capsys):
    history = train(small_model(), separable_loader(), epochs=2, device="cpu", progress=True)
    assert len(history.epochs) == 2


def test_step_hooks_see_every_step_with_gradients_before_and_after_the_update():
    from hiddenstruct.training.loop import StepHook

    class Recorder(StepHook):
        def __init__(self):
            self.calls = []

        def before_step(self, ctx):
            weight = next(ctx.model.parameters())
            assert weight.grad is not None
            self.before = weight.detach().clone()
            self.calls.append(("before", ctx.step, ctx.epoch, ctx.total_steps))

        def after_step(self, ctx):
            weight = next(ctx.model.parameters())
            assert not torch.equal(weight.detach(), self.before)  # the optimizer stepped
            self.calls.append(("after", ctx.step, ctx.epoch, ctx.total_steps))

    loader = separable_loader(n=64, batch_size=32)
    hook = Recorder()
    train(small_model(), loader, epochs=2, step_hooks=[hook], progress=False, device="cpu")
    assert hook.calls == [
        (kind, step, (step + 1) // 2, 4) for step in range(1, 5) for kind in ("before", "after")
    ]
