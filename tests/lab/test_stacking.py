"""Stacking: M ordinary modules as one, by vmap or by a loop, each member exactly its own module."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from decaylab.lab.task.builtin.models import mnist1d_cnn
from decaylab.lab.training.stacking import StackedModel


def members_and_stack(module: nn.Module, members: int, batched: bool):
    """``members`` perturbed copies of ``module`` and a stacked model holding the same weights."""
    copies = []
    for m in range(members):
        copy_ = copy.deepcopy(module).double()
        with torch.no_grad():
            for p in copy_.parameters():
                p.add_(0.01 * m)
        copies.append(copy_)
    stacked = StackedModel(copy.deepcopy(module).double(), members)
    stacked.batched = batched
    with torch.no_grad():
        for name, tensor in stacked.parameters.items():
            tensor.copy_(torch.stack([dict(c.named_parameters())[name] for c in copies]))
    return copies, stacked


@pytest.mark.parametrize("batched", [True, False])
def test_a_stacked_step_is_each_members_own_step_with_its_own_batchnorm_statistics(batched):
    module = nn.Sequential(mnist1d_cnn(batchnorm=True), nn.LayerNorm(10))
    copies, stacked = members_and_stack(module, 3, batched)
    x, y = torch.randn(20, 40, dtype=torch.float64), torch.randint(0, 10, (20,))
    stacked.per_member(F.cross_entropy, stacked(x), y).sum().backward()
    for m, alone in enumerate(copies):
        F.cross_entropy(alone(x), y).backward()
        for name, param in alone.named_parameters():
            torch.testing.assert_close(stacked.parameters[name].grad[m], param.grad, rtol=1e-10, atol=1e-12)
        for name, buffer in alone.named_buffers():
            torch.testing.assert_close(stacked.buffers[name][m], buffer, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("batched", [True, False])
def test_dropout_draws_one_mask_per_run_not_per_member(batched):
    module = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5))
    _, stacked = members_and_stack(module, 4, batched)
    with torch.no_grad():
        for tensor in stacked.parameters.values():
            tensor.copy_(tensor[:1].expand_as(tensor))  # identical members
    torch.manual_seed(0)
    out = stacked(torch.randn(5, 8, dtype=torch.float64))
    assert all(torch.equal(out[0], out[m]) for m in range(1, 4))
    torch.manual_seed(0)
    alone = copy.deepcopy(module).double()
    with torch.no_grad():
        for name, p in alone.named_parameters():
            p.copy_(stacked.parameters[name][0])
    torch.testing.assert_close(alone(torch.randn(5, 8, dtype=torch.float64)), out[0])  # the same draw


def test_on_the_cpu_convolutions_loop_over_members_and_dense_models_use_vmap():
    x, y = torch.randn(10, 40), torch.randint(0, 10, (10,))
    conv = StackedModel(mnist1d_cnn(batchnorm=False), 2)
    conv.choose_batching(x, y, F.cross_entropy)
    dense = StackedModel(nn.Sequential(nn.Linear(40, 10)), 2)
    dense.choose_batching(x, y, F.cross_entropy)
    assert (conv.batched, dense.batched) == (False, True)
    assert all(p.grad is None for p in dense.parameters.values())  # the trial leaves no trace
