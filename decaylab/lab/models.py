"""Grid-batched models: ``M`` members stacked along a leading dimension, trained as one.

Every parameter has shape ``(M, …)``, so the optimizer core can give each member its own
``lr`` and ``λ``. Activations are laid out as ``(M, B, F)`` for dense layers (one
``baddbmm``) and ``(B, M·C, …)`` for convolutions (one grouped convolution with
``groups = M``, and BatchNorm over ``M·C`` channels, which is BatchNorm per member).
Members share nothing: a member's result equals the same model trained alone (``M = 1``).

Every member starts from the same initialization, drawn once from the run's seed, so members
differ only in their hyperparameters (paired comparisons).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Norm = str  # "batch" or "none"


class StackedLinear(nn.Module):
    """``M`` linear layers: ``(M, B, in) → (M, B, out)``, initialized like ``nn.Linear``."""

    def __init__(self, members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(_uniform((in_features, out_features), bound).expand(members, -1, -1).clone())
        self.bias = nn.Parameter(_uniform((out_features,), bound).expand(members, -1).clone())

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight)


class StackedConv(nn.Module):
    """``M`` convolutions as one grouped convolution: ``(B, M·in, …) → (B, M·out, …)``."""

    def __init__(
        self, members: int, in_channels: int, out_channels: int, kernel: int, stride: int = 1, padding: int = 0,
        dims: int = 1, bias: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        fan_in = in_channels * kernel**dims
        bound = 1 / math.sqrt(fan_in)
        shape = (out_channels, in_channels, *([kernel] * dims))
        self.weight = nn.Parameter(_uniform(shape, bound).expand(members, *shape).clone())
        self.bias = nn.Parameter(_uniform((out_channels,), bound).expand(members, -1).clone()) if bias else None
        self.members, self.stride, self.padding = members, stride, padding
        self.conv = F.conv1d if dims == 1 else F.conv2d

    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias.flatten() if self.bias is not None else None
        return self.conv(x, self.weight.flatten(0, 1), bias, self.stride, self.padding, 1, self.members)


class StackedBatchNorm(nn.Module):
    """BatchNorm per member and channel on ``(B, M·C, …)``; parameters ``(M, C)``."""

    running_mean: Tensor
    running_var: Tensor

    def __init__(self, members: int, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(members, channels))
        self.bias = nn.Parameter(torch.zeros(members, channels))
        self.register_buffer("running_mean", torch.zeros(members * channels))
        self.register_buffer("running_var", torch.ones(members * channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight.flatten(), self.bias.flatten(),
            self.training, 0.1, 1e-5,
        )  # fmt: skip


class StackedDenseBatchNorm(StackedBatchNorm):
    """:class:`StackedBatchNorm` for dense activations ``(M, B, F)``."""

    def forward(self, x: Tensor) -> Tensor:
        members, batch, features = x.shape
        flat = x.transpose(0, 1).reshape(batch, members * features)
        return super().forward(flat).view(batch, members, features).transpose(0, 1)


def _uniform(shape: tuple[int, ...], bound: float) -> Tensor:
    """One member's draw from U(−bound, bound) on torch's global generator (seeded by the run)."""
    return torch.empty(shape).uniform_(-bound, bound)


def batchnorm_fed(prefix: str, layers: nn.ModuleList, norms: nn.ModuleList) -> dict[str, Tensor]:
    """The weights of ``layers`` whose output goes into a BatchNorm of ``norms`` (paired by position)."""
    return {
        f"{prefix}.{i}": cast(Tensor, layer.weight)
        for i, (layer, norm) in enumerate(zip(layers, norms, strict=True))
        if isinstance(norm, StackedBatchNorm)
    }


class MLP(nn.Module):
    """MNIST-1D's MLP (40 → 100 → 100 → 10, ReLU), with BatchNorm after each hidden layer if asked."""

    def __init__(self, members: int, norm: Norm = "none", inputs: int = 40, hidden: int = 100, classes: int = 10):
        super().__init__()
        widths = [inputs, hidden, hidden]
        self.hidden = nn.ModuleList(StackedLinear(members, a, b) for a, b in itertools.pairwise(widths))
        self.norms = nn.ModuleList(
            StackedDenseBatchNorm(members, hidden) if norm == "batch" else nn.Identity() for _ in self.hidden
        )
        self.head = StackedLinear(members, hidden, classes)
        self.members = members

    def normalized_weights(self) -> dict[str, Tensor]:
        """The weights that feed a BatchNorm (scale-invariant), by name."""
        return batchnorm_fed("hidden", self.hidden, self.norms)

    def forward(self, x: Tensor) -> Tensor:
        h = x.flatten(1).unsqueeze(0).expand(self.members, -1, -1)
        for layer, norm in zip(self.hidden, self.norms, strict=True):
            h = norm(layer(h)).relu()
        return self.head(h)


class CNN1d(nn.Module):
    """MNIST-1D's CNN: three 1-D convolutions (25 channels, stride 2) and a linear head."""

    def __init__(self, members: int, norm: Norm = "none", channels: int = 25, length: int = 40, classes: int = 10):
        super().__init__()
        specs = [(1, 5), (channels, 3), (channels, 3)]
        self.convs = nn.ModuleList(StackedConv(members, c_in, channels, k, stride=2, padding=1) for c_in, k in specs)
        self.norms = nn.ModuleList(
            StackedBatchNorm(members, channels) if norm == "batch" else nn.Identity() for _ in specs
        )
        for _, kernel in specs:
            length = (length + 2 - kernel) // 2 + 1
        self.head = StackedLinear(members, channels * length, classes)
        self.members = members

    def normalized_weights(self) -> dict[str, Tensor]:
        """The weights that feed a BatchNorm (scale-invariant), by name."""
        return batchnorm_fed("convs", self.convs, self.norms)

    def forward(self, x: Tensor) -> Tensor:
        h = x.view(x.shape[0], 1, -1).repeat(1, self.members, 1)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = norm(conv(h)).relu()
        return self.head(h.view(h.shape[0], self.members, -1).transpose(0, 1))


class BasicBlock(nn.Module):
    """ResNet basic block with option-A shortcut (stride-2 subsampling, zero-padded channels)."""

    def __init__(self, members: int, c_in: int, c_out: int, stride: int, norm: Norm) -> None:
        super().__init__()

        def norm_layer() -> nn.Module:
            return StackedBatchNorm(members, c_out) if norm == "batch" else nn.Identity()

        self.conv1 = StackedConv(members, c_in, c_out, 3, stride, 1, dims=2, bias=norm != "batch")
        self.norm1 = norm_layer()
        self.conv2 = StackedConv(members, c_out, c_out, 3, 1, 1, dims=2, bias=norm != "batch")
        self.norm2 = norm_layer()
        self.members, self.pad = members, c_out - c_in
        self.stride = stride

    def shortcut(self, x: Tensor) -> Tensor:
        if self.stride == 1 and self.pad == 0:
            return x
        x = x[:, :, :: self.stride, :: self.stride]
        batch, _, height, width = x.shape
        x = x.view(batch, self.members, -1, height, width)
        x = F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return x.view(batch, -1, height, width)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm1(self.conv1(x)).relu()
        return (self.norm2(self.conv2(h)) + self.shortcut(x)).relu()


class ResNet20(nn.Module):
    """ResNet-20 for CIFAR-10 (He et al. 2016, option-A shortcuts); ``norm="none"`` removes BN."""

    def __init__(self, members: int, norm: Norm = "batch", classes: int = 10) -> None:
        super().__init__()
        self.stem = StackedConv(members, 3, 16, 3, 1, 1, dims=2, bias=norm != "batch")
        self.stem_norm = StackedBatchNorm(members, 16) if norm == "batch" else nn.Identity()
        blocks: list[nn.Module] = []
        c_in = 16
        for c_out, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                blocks.append(BasicBlock(members, c_in, c_out, stride if i == 0 else 1, norm))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = StackedLinear(members, 64, classes)
        self.members = members

    def normalized_weights(self) -> dict[str, Tensor]:
        """The convolution kernels that feed a BatchNorm (scale-invariant), by name."""
        if not isinstance(self.stem_norm, StackedBatchNorm):
            return {}
        return {name: p for name, p in self.named_parameters() if name.endswith("weight") and p.ndim == 5}

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem_norm(self.stem(x.repeat(1, self.members, 1, 1))).relu()
        h = self.blocks(h).mean((2, 3))
        return self.head(h.view(h.shape[0], self.members, -1).transpose(0, 1))


ModelFactory = Callable[[int], nn.Module]
"""``factory(members)`` builds a stacked model whose output is ``(M, B, classes)``."""
