"""Which parameters to decay, and what a weight decay value means in each convention."""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor, nn

Convention = Literal["paper", "torch"]

NORM_LAYERS = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    nn.RMSNorm,
)


DECAYED_OPTIONS: dict[str, dict[str, bool]] = {
    "all": {"decay_all": True},
    "matrices": {},
    "matrices-no-embeddings": {"decay_embeddings": False},
}
""":func:`param_groups`' options for each named practice of which parameters λ reaches (a study's ``--decayed``;
``task`` is the task's own ``decay_all`` and ``no_decay``)."""

COMPILED_PREFIX = "_orig_mod."
"""What ``torch.compile`` puts before the names of the module it wraps."""


def param_groups(
    model: nn.Module,
    weight_decay: float | Tensor,
    *,
    decay_all: bool = False,
    no_decay: tuple[str, ...] = (),
    decay_embeddings: bool = True,
    muon: bool = False,
    adam_for: tuple[str, ...] = (),
    adam_lr: float | Tensor | None = None,
    adam_weight_decay: float | Tensor | None = None,
) -> list[dict[str, Any]]:
    """Two param groups: matrices and convolution kernels decayed, the rest not.

    Biases, 1-D parameters and the parameters of normalization layers get ``weight_decay = 0`` (the common
    practice, as in timm's ``param_groups_weight_decay``), as does any parameter whose name starts with an entry
    of ``no_decay``. ``decay_all=True`` decays every parameter but those of ``no_decay``;
    ``decay_embeddings=False`` spares the tables of ``nn.Embedding`` layers too. Empty groups are left out.
    ``weight_decay`` may be a per-member tensor. A ``torch.compile``'d model's names are read without the
    ``_orig_mod.`` that compiled modules add, so ``no_decay`` names the same layers either way.

    With ``muon=True`` each group is split by the direction :class:`~decaylab.optim.Muon` gives it (its
    ``"direction"`` key): 2-D weights take Muon's, except embeddings (rows looked up, not a map to
    orthogonalize) and the parameters whose names start with an entry of ``adam_for`` (a head, say), which take
    Adam's with the biases and norms; decided on the module's own shapes, so a stacked model's groups say the
    same. ``adam_lr`` and ``adam_weight_decay`` give Adam's half its own peak α and λ (None: the model's); each
    group's ``η_t`` is its own ``lr`` over its own α, so one scheduler serves both halves.
    """
    if not muon and (adam_lr is not None or adam_weight_decay is not None):
        raise ValueError("adam_lr and adam_weight_decay are for Muon's Adam half: give them with muon=True")
    in_norm_layer = {
        id(p) for module in model.modules() if isinstance(module, NORM_LAYERS) for p in module.parameters()
    }
    embeddings = {id(p) for module in model.modules() if isinstance(module, nn.Embedding) for p in module.parameters()}
    decayed: list[nn.Parameter] = []
    kept: list[nn.Parameter] = []
    orthogonalized: set[int] = set()
    for prefixed, param in model.named_parameters():
        if not param.requires_grad:
            continue
        name = prefixed.replace(COMPILED_PREFIX, "")
        by_rule = param.ndim <= 1 or name.endswith("bias") or id(param) in in_norm_layer
        spared = (by_rule and not decay_all) or name.startswith(no_decay)
        (kept if spared or (id(param) in embeddings and not decay_embeddings) else decayed).append(param)
        if is_matrix(param) and id(param) not in embeddings and not name.startswith(adam_for):
            orthogonalized.add(id(param))
    if not muon:
        groups: list[dict[str, Any]] = [{"params": decayed, "weight_decay": weight_decay}]
        return [group for group in [*groups, {"params": kept, "weight_decay": 0.0}] if group["params"]]
    adam_decay = weight_decay if adam_weight_decay is None else adam_weight_decay
    halves = [*by_direction(decayed, orthogonalized, weight_decay, adam_decay), *by_direction(kept, orthogonalized)]
    for half in halves:
        if half["direction"] == "adam" and adam_lr is not None:
            half["lr"] = adam_lr
    return [half for half in halves if half["params"]]


def by_direction(
    params: list[nn.Parameter],
    orthogonalized: set[int],
    muon_decay: float | Tensor = 0.0,
    adam_decay: float | Tensor = 0.0,
) -> list[dict[str, Any]]:
    """``params`` as two groups: Muon's direction with λ ``muon_decay``, Adam's with ``adam_decay``."""
    return [
        {"params": [p for p in params if id(p) in orthogonalized], "weight_decay": muon_decay, "direction": "muon"},
        {"params": [p for p in params if id(p) not in orthogonalized], "weight_decay": adam_decay, "direction": "adam"},
    ]


def is_matrix(tensor: Tensor) -> bool:
    """A real 2-D tensor: what Muon's direction takes unless a group says otherwise."""
    return tensor.ndim == 2 and not tensor.is_complex()


def convert_weight_decay(value: float, lr: float, src: Convention, dst: Convention) -> float:
    """The same decay in another AdamW convention: ``λ_paper = α·λ_torch``.

    ``lr`` is the initial learning rate ``α`` the value was tuned with. Example: torch's
    ``AdamW(lr=1e-3, weight_decay=1e-2)`` decays like the paper's ``λ = 1e-5`` per step.
    """
    for name, convention in (("src", src), ("dst", dst)):
        if convention not in ("paper", "torch"):
            raise ValueError(f"{name} must be 'paper' or 'torch', got {convention!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if src == dst:
        return value
    return value * lr if src == "torch" else value / lr
