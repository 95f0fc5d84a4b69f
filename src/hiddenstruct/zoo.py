"""Reference architectures written here (no torchvision): plain ``nn.Module`` models that
tests, benchmarks and docs trace, prune and compact.

All are ordinary PyTorch modules built from ``torch.nn`` layers, symbolically traceable
with ``torch.fx`` (no data-dependent control flow), and deterministic given ``seed``.

- :func:`lenet_300_100` — the MLP of LeCun et al. (784 → 300 → 100 → 10, ReLU), flattening
  its input first.
- :class:`LeNet5` — two 5×5 convolutions (6 and 16 channels, the first padded by 2 so a
  28×28 MNIST image gives the classic 32×32 geometry), max-pooling by 2, then
  120 → 84 → classes.
- :class:`ResNet18` — He et al.'s ResNet-18 (ImageNet layout: 7×7 stem with stride 2,
  max-pool, four stages of two basic blocks, 1×1 projection shortcuts where the shape
  changes): 20 convolutions, 8 residual additions. ``width`` scales every stage (64 is the
  original) so tests can build a small one.
- :class:`RNNTextClassifier` — embedding → LSTM or GRU (batch first) → the last step's
  output → a linear classifier.
- :class:`TransformerEncoderBlock` — a post-norm encoder (as in Vaswani et al.)
  block with explicit q/k/v/out projections (``nn.Linear``, so pruning can see them),
  ``scaled_dot_product_attention``, and a two-layer ReLU feed-forward; residual additions
  around both. :class:`TransformerClassifier` puts one or more of them between a linear
  input projection and a mean-pooled linear head.

``reference_models()`` returns one small instance of each with an example input — the set the
tracing tests run on.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from hiddenstruct.errors import unknown_name


def _seeded(seed: int | None):
    if seed is not None:
        torch.manual_seed(seed)


def mlp(sizes: list[int] | tuple[int, ...], *, seed: int | None = 0) -> nn.Sequential:
    """Flatten, then Linear layers between consecutive ``sizes`` with ReLU between them."""
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least two sizes (input and output), got {list(sizes)}")
    _seeded(seed)
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def lenet_300_100(in_features: int = 784, classes: int = 10, *, seed: int | None = 0):
    """LeNet-300-100 (LeCun et al. 1998): ``mlp([in_features, 300, 100, classes])``."""
    return mlp([in_features, 300, 100, classes], seed=seed)


class LeNet5(nn.Module):
    """LeNet-5 for 28×28 single-channel images (input [B, 1, 28, 28])."""

    def __init__(self, in_channels: int = 1, classes: int = 10, *, seed: int | None = 0):
        super().__init__()
        _seeded(seed)
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(120, 84)
        self.relu4 = nn.ReLU()
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu3(self.fc1(x))
        x = self.relu4(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    """ResNet basic block: two 3×3 conv-BN pairs and an identity or 1×1-projection shortcut."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu2 = nn.ReLU()
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + identity)


class ResNet18(nn.Module):
    """ResNet-18 (He et al. 2016, ImageNet layout); ``width`` is the first stage's channels."""

    def __init__(
        self, classes: int = 10, in_channels: int = 3, width: int = 64, *, seed: int | None = 0
    ):
        super().__init__()
        _seeded(seed)
        self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        stages = []
        channels = width
        for i in range(4):
            out = width * 2**i
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(channels, out, stride), BasicBlock(out, out)))
            channels = out
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.flatten(self.avgpool(x)))


class RNNTextClassifier(nn.Module):
    """Token ids [B, T] → embedding → LSTM/GRU → the last step's output → class logits."""

    def __init__(
        self,
        vocab: int = 100,
        embed: int = 16,
        hidden: int = 32,
        classes: int = 2,
        *,
        cell: str = "LSTM",
        layers: int = 1,
        seed: int | None = 0,
    ):
        super().__init__()
        cells = {"LSTM": nn.LSTM, "GRU": nn.GRU}
        if cell not in cells:
            raise ValueError(f"RNNTextClassifier: {unknown_name('cell', cell, cells)}")
        _seeded(seed)
        self.embedding = nn.Embedding(vocab, embed)
        self.rnn = cells[cell](embed, hidden, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out = self.rnn(self.embedding(tokens))[0]
        return self.fc(out[:, -1])


class TransformerEncoderBlock(nn.Module):
    """Post-norm encoder block on [B, T, d_model]: self-attention and feed-forward, each with
    a residual addition followed by LayerNorm."""

    def __init__(self, d_model: int = 32, heads: int = 4, ff: int = 64):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by heads ({heads})")
        self.heads = heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.ff1 = nn.Linear(d_model, ff)
        self.relu = nn.ReLU()
        self.ff2 = nn.Linear(ff, d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        # [B, T, d] -> [B, heads, T, d/heads] without reading shapes (fx-traceable)
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(-2)
        x = self.norm1(x + self.out(attended))
        return self.norm2(x + self.ff2(self.relu(self.ff1(x))))


class TransformerClassifier(nn.Module):
    """[B, T, features] → linear projection → ``blocks`` encoder blocks → mean over T → logits."""

    def __init__(
        self,
        features: int = 8,
        d_model: int = 32,
        heads: int = 4,
        ff: int = 64,
        classes: int = 2,
        blocks: int = 1,
        *,
        seed: int | None = 0,
    ):
        super().__init__()
        _seeded(seed)
        self.embed = nn.Linear(features, d_model)
        self.blocks = nn.Sequential(
            *(TransformerEncoderBlock(d_model, heads, ff) for _ in range(blocks))
        )
        self.head = nn.Linear(d_model, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.embed(x)).mean(dim=1))


def reference_models(*, seed: int = 0) -> dict[str, tuple[nn.Module, tuple[torch.Tensor, ...]]]:
    """One small instance of each reference architecture with an example input batch of 2:
    ``{"mlp", "lenet5", "resnet18", "lstm", "gru", "transformer"}`` → ``(model, inputs)``.
    ResNet-18 is built at width 8 on 32×32 images (all 20 convolutions and 8 additions, ~1/64
    of the original's weights)."""
    gen = torch.Generator().manual_seed(seed)
    return {
        "mlp": (lenet_300_100(seed=seed), (torch.randn(2, 1, 28, 28, generator=gen),)),
        "lenet5": (LeNet5(seed=seed), (torch.randn(2, 1, 28, 28, generator=gen),)),
        "resnet18": (
            ResNet18(width=8, seed=seed).eval(),
            (torch.randn(2, 3, 32, 32, generator=gen),),
        ),
        "lstm": (
            RNNTextClassifier(cell="LSTM", seed=seed),
            (torch.randint(0, 100, (2, 7), generator=gen),),
        ),
        "gru": (
            RNNTextClassifier(cell="GRU", seed=seed),
            (torch.randint(0, 100, (2, 7), generator=gen),),
        ),
        "transformer": (
            TransformerClassifier(seed=seed).eval(),
            (torch.randn(2, 5, 8, generator=gen),),
        ),
    }
