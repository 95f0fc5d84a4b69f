"""The reference architectures: shapes, fx-traceability, ResNet-18's layout, seeds."""

import pytest
import torch
from torch import fx, nn

from hiddenstruct.zoo import ResNet18, RNNTextClassifier, mlp, reference_models

OUT = {"mlp": 10, "lenet5": 10, "resnet18": 10, "lstm": 2, "gru": 2, "transformer": 2}


@pytest.mark.parametrize("name", sorted(OUT))
def test_reference_models_run_and_trace(name):
    model, inputs = reference_models()[name]
    out = model(*inputs)
    assert out.shape == (inputs[0].shape[0], OUT[name])
    traced = fx.symbolic_trace(model)
    torch.testing.assert_close(traced(*inputs), out)


def test_resnet18_has_20_convolutions_8_blocks_and_original_size():
    full = ResNet18(classes=1000)
    convs = [m for m in full.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 20
    blocks = [m for m in full.modules() if type(m).__name__ == "BasicBlock"]
    assert len(blocks) == 8
    # torchvision's resnet18 has 11,689,512 parameters (its published count)
    assert sum(p.numel() for p in full.parameters()) == 11_689_512


def test_same_seed_same_weights_and_bad_arguments():
    a, b = mlp([4, 3, 2], seed=1), mlp([4, 3, 2], seed=1)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    with pytest.raises(ValueError, match="unknown cell"):
        RNNTextClassifier(cell="RNN")
    with pytest.raises(ValueError, match="two sizes"):
        mlp([4])
