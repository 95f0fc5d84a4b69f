from __future__ import annotations

import pytest
import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn import MaskedRNN, SequenceClassifier, apply_mask
from hiddenstruct.training.optim import make_optimizer


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = SequenceClassifier(MaskedRNN(8, [12, 12], mode="GRU"), vocab_size=20, num_classes=2)
    for layer in model.rnn.layers:
        for name in ("weight_ih", "weight_hh"):
            apply_mask(layer, name, (torch.rand_like(getattr(layer, name)) < 0.5).float())
    return model


def _train(model: nn.Module, opt: torch.optim.Optimizer, steps: int = 6) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        codes = torch.randint(1, 20, (5, 7), generator=gen)
        lengths = torch.tensor([7, 6, 4, 3, 1])
        target = torch.randint(0, 2, (5,), generator=gen)
        opt.zero_grad()
        nn.functional.cross_entropy(model(codes, lengths), target).backward()
        opt.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize(
    ("name", "options"), [("adam", {}), ("adamw", {}), ("sgd", {"momentum": 0.9})]
)
def test_registry_uses_multi_tensor_steps_with_the_single_tensor_bits(name, options):
    ours = _model(0)
    opt = make_optimizer(name, ours.parameters(), 1e-2, **options)
    assert opt.defaults["foreach"] is True
    plain = _model(0)
    reference = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    extra = {"weight_decay": 0.01} if name == "adamw" else {}
    single = reference[name](plain.parameters(), lr=1e-2, foreach=False, **extra, **options)
    assert torch.equal(_train(ours, opt), _train(plain, single))


def test_explicit_implementation_choices_are_kept():
    params = list(_model(0).parameters())
    assert make_optimizer("adam", params, 1e-3, foreach=False).defaults["foreach"] is False
    fused = make_optimizer("adam", params, 1e-3, fused=True)
    assert fused.defaults["fused"] is True and not fused.defaults["foreach"]
    with pytest.raises(UsageError, match="bad options"):
        make_optimizer("adam", params, 1e-3, nesterov=True)
