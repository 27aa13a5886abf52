"""M copies of one ordinary ``nn.Module``, trained as one model (grid-batched training).

The user's module stays an ordinary module. Its parameters and buffers are stacked along a
leading member dimension (``(M, *shape)`` each) and the module runs on them through
``torch.func.functional_call`` under ``vmap``: a linear layer becomes one batched matmul, a
convolution one grouped convolution, BatchNorm keeps running statistics per member. Where a
layer or the loss has no batching rule (data-dependent control flow, ``.item()``), the same
functional call loops over the members instead. It loops on the CPU for models with
convolutions too: there, one grouped convolution over the members is slower than a
convolution per member (measured in ``docs/design-notes.md``).

Random layers draw one mask per *run*, not per member (``randomness="same"``; the loop
restores the generator before each member): members share a seed, and a run's numbers must
not depend on which other runs share its unit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap
from torch.utils._pytree import tree_map

from decaylab.optim import param_groups

MemberFunction = Callable[[Tensor, Tensor], Tensor]
"""A loss or metric of one member: ``(output, target) → 0-dim tensor``."""


class StackedModel:
    """``members`` copies of ``module``, all starting from its current weights.

    ``parameters`` and ``buffers`` map the module's names to stacked tensors ``(M, *shape)``;
    ``self(x)`` returns every member's output ``(M, *output_shape)`` for one shared batch (for a
    module that returns a tuple or dict, the same structure with every tensor stacked).
    """

    def __init__(self, module: nn.Module, members: int) -> None:
        self.module = module = eager(module)
        self.members = members
        self.parameters = {
            name: _stack(p.detach(), members).requires_grad_(p.requires_grad) for name, p in module.named_parameters()
        }
        self.buffers = {name: _stack(b, members) for name, b in module.named_buffers()}
        self.batched = True
        """``vmap`` over members (True) or a loop over members (False, for layers without batching rules)."""
        self.looped: set[MemberFunction] = set()
        """Losses and metrics that ``vmap`` cannot batch: they loop over members even when the model does not."""

    def __call__(self, x: Tensor) -> Tensor:
        return self._forward(x, self.buffers)

    def _forward(self, x: Tensor, buffers: dict[str, Tensor]) -> Tensor:
        if self.batched:
            call = vmap(self._member_forward, in_dims=(0, 0, None), randomness="same")
            return call(self.parameters, buffers, x)  # type: ignore[no-any-return]
        outputs = []
        with _same_randomness(x.device) as restore:
            for member in range(self.members):
                restore()
                parameters = {name: p[member] for name, p in self.parameters.items()}
                outputs.append(self._member_forward(parameters, {n: b[member] for n, b in buffers.items()}, x))
        return tree_map(lambda *members: torch.stack(members), *outputs)  # a tuple or dict output: leaf by leaf

    def _member_forward(self, parameters: dict[str, Tensor], buffers: dict[str, Tensor], x: Tensor) -> Tensor:
        return functional_call(self.module, (parameters, buffers), (x,))  # type: ignore[no-any-return]

    def per_member(self, function: MemberFunction, outputs: Tensor, target: Tensor) -> Tensor:
        """``function(output_m, target)`` for every member: ``(M,)``.

        A function that ``vmap`` cannot batch (a metric that calls ``.item()``, numpy or
        scikit-learn, or returns a Python float) loops over the members, from its first call on.
        """
        if self.batched and function not in self.looped:
            try:
                return vmap(function, in_dims=(0, None))(outputs, target)  # type: ignore[no-any-return]
            except Exception:  # any real error shows again in the loop
                self.looped.add(function)
        values = [function(tree_map(itemgetter(m), outputs), target) for m in range(self.members)]
        return torch.stack([torch.as_tensor(value, device=target.device) for value in values])

    def choose_batching(self, x: Tensor, target: Tensor, loss: MemberFunction, exact: bool = False) -> None:
        """Use ``vmap`` where it pays and one training step of model and loss runs under it, else loop.

        The choice depends on the model, the device and ``exact`` alone, never on timing, so a run's
        numbers do not change from one attempt to the next. ``exact`` loops on a CPU: ``vmap``'s batched
        matrix products round by the unit's size (a float32 bit), which Muon's bfloat16 orthogonalization
        makes into another run; looped, each member computes what its model alone computes, to the bit. The
        trial runs on copies of the buffers with the random generators restored afterwards, and its gradients
        are discarded: training is not affected.
        """
        convolutions = any(isinstance(m, nn.modules.conv._ConvNd) for m in self.module.modules())
        self.batched = not (x.device.type == "cpu" and (convolutions or exact))
        if not self.batched:
            return
        try:
            with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
                buffers = {name: b.clone() for name, b in self.buffers.items()}
                self.per_member(loss, self._forward(x, buffers), target).sum().backward()
        except Exception:  # no batching rule somewhere: any real error shows again in the loop
            self.batched = False
        finally:
            for p in self.parameters.values():
                p.grad = None

    def train(self, mode: bool = True) -> None:
        self.module.train(mode)

    def eval(self) -> None:
        self.module.train(False)

    def param_groups(self, weight_decay: Tensor | float, **options: Any) -> list[dict[str, Any]]:
        """:func:`decaylab.optim.param_groups` decided on the member's own shapes, over the stacked tensors.

        A member's 1-D weight stays a 1-D weight to the rule (not a matrix because of the
        member dimension); ``options`` are ``param_groups``' (``decay_all``, ``no_decay``).
        """
        names = {id(p): name for name, p in self.module.named_parameters()}
        return [
            {**group, "params": [self.parameters[names[id(p)]] for p in group["params"]]}
            for group in param_groups(self.module, weight_decay, **options)
        ]

    def state_dict(self) -> dict[str, Tensor]:
        """Stacked parameters and buffers by name (a checkpoint of every member)."""
        return {
            **{f"parameters.{n}": p.detach() for n, p in self.parameters.items()},
            **{f"buffers.{n}": b for n, b in self.buffers.items()},
        }

    def member_state_dict(self, member: int) -> dict[str, Tensor]:
        """Member ``member``'s weights as the ordinary module's own ``state_dict`` (its keys, a tied
        weight under each of its names): ``make_model().load_state_dict(...)`` takes it."""
        stacked = {**self.parameters, **self.buffers}
        canonical = {id(t): name for name, t in (*self.module.named_parameters(), *self.module.named_buffers())}
        return {
            key: stacked[canonical[id(tensor)]][member].detach().clone()
            for key, tensor in self.module.state_dict(keep_vars=True).items()
        }

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        for name, tensor in self.parameters.items():
            tensor.copy_(state[f"parameters.{name}"])
        for name, tensor in self.buffers.items():
            tensor.copy_(state[f"buffers.{name}"])


def eager(module: nn.Module) -> nn.Module:
    """The module a ``torch.compile``'d one wraps (the same parameters, named without ``_orig_mod.``), or
    ``module`` itself. A compiled graph does not run under the members' ``functional_call``: the members
    train the module eagerly, with its numbers."""
    original = getattr(module, "_orig_mod", None)
    return original if isinstance(original, nn.Module) else module


def compiled(module: nn.Module) -> bool:
    return eager(module) is not module


def on_device(pair: tuple[Tensor, Tensor], dtype: torch.dtype, device: str) -> tuple[Tensor, Tensor]:
    """A split ``(inputs, targets)`` on the device: floating point data in the training dtype, integers
    (token ids, labels) kept."""
    x, y = (t.to(device, dtype) if t.is_floating_point() else t.to(device) for t in pair)
    return x, y


def _stack(tensor: Tensor, members: int) -> Tensor:
    return tensor.unsqueeze(0).repeat(members, *([1] * tensor.ndim))


@contextmanager
def _same_randomness(device: torch.device) -> Iterator[Callable[[], None]]:
    """Yield a function that rewinds the random generators to their state on entry."""
    cpu_state = torch.get_rng_state()
    cuda_state = torch.cuda.get_rng_state(device) if device.type == "cuda" else None

    def restore() -> None:
        torch.set_rng_state(cpu_state)
        if cuda_state is not None:
            torch.cuda.set_rng_state(cuda_state, device)

    yield restore


BATCHNORM_INVARIANT = (
    nn.ReLU,
    nn.LeakyReLU,
    nn.Dropout,
    nn.Identity,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.Flatten,
    nn.Unflatten,
)
"""Parameter-free layers that commute with a positive rescaling, so a weight before them stays
scale-invariant when a BatchNorm follows."""


def batchnorm_fed_weights(module: nn.Module) -> list[str]:
    """Names of the weights whose scale a BatchNorm removes: a Linear or convolution whose output
    reaches a BatchNorm through nothing but positively homogeneous layers (ReLU, pooling, dropout),
    in the order the layers are registered (``nn.Sequential``, and blocks written conv → norm)."""
    names: list[str] = []
    candidate: str | None = None
    for name, layer in module.named_modules():
        if any(True for _ in layer.children()):
            continue
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            if candidate is not None:
                names.append(candidate)
            candidate = None
        elif isinstance(layer, (nn.Linear, nn.modules.conv._ConvNd)):
            candidate = f"{name}.weight" if name else "weight"
        elif not isinstance(layer, BATCHNORM_INVARIANT):
            candidate = None
    return names
