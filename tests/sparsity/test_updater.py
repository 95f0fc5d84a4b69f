"""The one updater abstraction (scores → masks on a schedule) and the config objects."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from hiddenstruct.nn import MaskedDeepFFN, masks
from hiddenstruct.pruning import (
    IterativeConfig,
    Pruner,
    iterative_prune,
    one_shot,
    prune,
    relative,
)
from hiddenstruct.sparse_training import SET, DynamicSparsity, init_sparse_masks
from hiddenstruct.sparsity import MaskUpdater, prunable_tensors, select_top
from hiddenstruct.training import TrainConfig, train


def _ffn(seed: int = 0) -> MaskedDeepFFN:
    torch.manual_seed(seed)
    return MaskedDeepFFN(8, 3, [6, 5])


def _loader() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 8, generator=g)
    return DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=8)


class DropSmallest(MaskUpdater):
    """A whole drop-only method: the ``amount`` smallest live |w| of each tensor go."""

    def compute_masks(self, current, amount, ctx=None):
        return {
            n: m & ~select_top(-self.tensors[n].masked_weight.abs(), m, amount)
            for n, m in current.items()
        }

    def amount_at(self, step, total_steps=None):
        return 2


def test_a_method_is_one_compute_masks_and_runs_on_its_schedule_as_a_step_hook():
    model = _ffn()
    tensors = prunable_tensors(model)
    for t in tensors.values():
        t.ensure_mask()
    hook = DropSmallest(tensors, update_every=3)
    before = {k: v.clone() for k, v in masks(model).items()}
    train(model, _loader(), epochs=1, step_hooks=[hook])  # 6 steps: updates at 3 and 6
    assert hook.updates == 2
    for name, mask in masks(model).items():
        assert int(before[name].sum() - mask.sum()) == 4
        assert not torch.any(mask.bool() & ~before[name].bool())  # masks only shrink


def test_pruning_and_dynamic_sparse_training_are_mask_updaters():
    model = _ffn()
    assert isinstance(Pruner(model), MaskUpdater)
    init_sparse_masks(model, 0.5, seed=0)
    assert issubclass(SET, DynamicSparsity) and isinstance(SET(model), MaskUpdater)


def test_prune_is_one_pruner_update():
    a, b = _ffn(), _ffn()
    report = prune(a, "magnitude", "class_uniform", 0.4)
    pruner = Pruner(b, "magnitude", "class_uniform")
    assert pruner.prune(0.4) == report
    assert pruner.updates == 1
    assert all(torch.equal(masks(a)[k], masks(b)[k]) for k in masks(a))


def test_a_pruner_with_a_schedule_prunes_gradually_during_training():
    model = _ffn()
    pruner = Pruner(model, schedule=relative(0.5), update_every=2)
    assert sum(m.numel() for m in masks(model).values()) == 93
    train(model, _loader(), epochs=1, step_hooks=[pruner])  # updates at steps 2, 4, 6
    assert pruner.updates == 3
    # half of the remaining weights (rounded half up) per update: 93 → 46 → 23 → 11
    assert sum(int(m.sum()) for m in masks(model).values()) == 11


def test_iterative_config_is_the_same_as_keywords():
    a, b = _ffn(), _ffn()
    kw = iterative_prune(a, "random", "class_blinded", one_shot(0.5), seed=3, checkpoints=(0.3,))
    cfg = IterativeConfig(seed=3, checkpoints=(0.3,))
    by_config = iterative_prune(b, "random", "class_blinded", one_shot(0.5), cfg)
    assert kw == by_config
    assert all(torch.equal(masks(a)[k], masks(b)[k]) for k in masks(a))
    with pytest.raises(TypeError, match="unexpected keyword.*valid"):
        iterative_prune(_ffn(), "magnitude", "class_blinded", one_shot(0.5), rewind=True)
    with pytest.raises(TypeError, match="must be an instance of IterativeConfig"):
        iterative_prune(_ffn(), "magnitude", "class_blinded", one_shot(0.5), "h2h")


def test_train_config_is_the_same_as_keywords():
    a, b = _ffn(), copy.deepcopy(_ffn())
    torch.manual_seed(1)
    train(a, _loader(), epochs=2, lr=1e-2, optimizer="sgd")
    torch.manual_seed(1)
    train(b, _loader(), TrainConfig(epochs=1, lr=1e-2, optimizer="sgd"), epochs=2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    with pytest.raises(TypeError, match="needs epochs"):
        train(_ffn(), _loader())
