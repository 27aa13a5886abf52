"""The built-in tasks' models: ordinary ``nn.Module`` s, as a user would write them.

decaylab stacks the members itself (:mod:`decaylab.lab.training.stacking`); nothing here knows about
grid batching.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def mnist1d_mlp(batchnorm: bool, width: int = 100) -> nn.Sequential:
    """MNIST-1D's MLP, 40 → width → width → 10 with ReLU (width 100 as published), and BatchNorm after each
    hidden layer if asked."""
    hidden = [nn.Linear(40, width), *_norm(batchnorm, nn.BatchNorm1d(width)), nn.ReLU()]
    hidden += [nn.Linear(width, width), *_norm(batchnorm, nn.BatchNorm1d(width)), nn.ReLU()]
    return nn.Sequential(*hidden, nn.Linear(width, 10))


def mnist1d_cnn(batchnorm: bool, width: int = 25) -> nn.Sequential:
    """MNIST-1D's CNN: three 1-D convolutions of ``width`` channels (25 as published; stride 2, padding 1),
    ReLU, a linear head."""
    layers: list[nn.Module] = [nn.Unflatten(1, (1, 40))]
    for c_in, kernel in ((1, 5), (width, 3), (width, 3)):
        layers += [nn.Conv1d(c_in, width, kernel, stride=2, padding=1), *_norm(batchnorm, nn.BatchNorm1d(width))]
        layers.append(nn.ReLU())
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(width * 5, 10))  # length 40 → 19 → 10 → 5


def _norm(batchnorm: bool, layer: nn.Module) -> list[nn.Module]:
    return [layer] if batchnorm else []


class BasicBlock(nn.Module):
    """ResNet basic block with option-A shortcut: stride-2 subsampling and zero-padded channels."""

    def __init__(self, c_in: int, c_out: int, stride: int, batchnorm: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=not batchnorm)
        self.norm1 = nn.BatchNorm2d(c_out) if batchnorm else nn.Identity()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=not batchnorm)
        self.norm2 = nn.BatchNorm2d(c_out) if batchnorm else nn.Identity()
        self.stride, self.pad = stride, c_out - c_in

    def shortcut(self, x: Tensor) -> Tensor:
        if self.stride == 1 and self.pad == 0:
            return x
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm1(self.conv1(x)).relu()
        return (self.norm2(self.conv2(h)) + self.shortcut(x)).relu()


class ResNet20(nn.Module):
    """ResNet-20 for CIFAR-10 (He et al. 2016, option A); ``batchnorm=False`` removes BN (Zhuang et al.)."""

    def __init__(self, batchnorm: bool = True, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 1, 1, bias=not batchnorm)
        self.stem_norm = nn.BatchNorm2d(16) if batchnorm else nn.Identity()
        blocks: list[nn.Module] = []
        c_in = 16
        for c_out, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                blocks.append(BasicBlock(c_in, c_out, stride if i == 0 else 1, batchnorm))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(64, classes)

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem_norm(self.stem(x)).relu()
        return self.head(self.blocks(h).mean((2, 3)))


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position ``t`` sees positions ``≤ t``.

    Written with matmuls and a masked softmax rather than ``scaled_dot_product_attention``,
    which has no ``vmap`` batching rule: this way stacked members stay one batched matmul.
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.heads = heads

    def forward(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / math.sqrt(width // self.heads)
        future = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        attention = scores.masked_fill(future, float("-inf")).softmax(-1)
        return self.proj((attention @ v).transpose(1, 2).reshape(batch, length, width))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attention(LN(x))``, then ``x + MLP(LN(x))``."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = CausalSelfAttention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class CharTransformer(nn.Module):
    """A small decoder-only transformer: token + position embedding, ``blocks`` pre-norm blocks,
    a final LayerNorm and a head tied to the token embedding (``tied=False`` unties it).

    Input ``(B, T)`` token ids, output ``(B, T, vocabulary)`` next-token logits.
    """

    def __init__(
        self, vocabulary: int, context: int, width: int = 64, heads: int = 4, blocks: int = 2, tied: bool = True
    ) -> None:
        super().__init__()
        self.token = nn.Embedding(vocabulary, width)
        self.position = nn.Embedding(context, width)
        self.blocks = nn.Sequential(*(Block(width, heads) for _ in range(blocks)))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocabulary, bias=False)
        for parameter in (self.token.weight, self.position.weight):
            nn.init.normal_(parameter, std=0.02)
        if tied:
            self.head.weight = self.token.weight

    def forward(self, tokens: Tensor) -> Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        h = self.blocks(self.token(tokens) + self.position(positions))
        return self.head(self.norm(h))  # type: ignore[no-any-return]
