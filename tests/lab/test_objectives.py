import torch
import torch.nn.functional as F
from torch.func import vmap

from decaylab.lab.task.objectives import cross_entropy


def test_cross_entropy_is_torchs_for_classifiers_and_sequences_and_maps_over_members():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 5, dtype=torch.float64, generator=generator) * 4
    labels = torch.randint(0, 5, (8,), generator=generator)
    torch.testing.assert_close(cross_entropy(logits, labels), F.cross_entropy(logits, labels), rtol=1e-14, atol=0)
    sequences = torch.randn(3, 7, 11, dtype=torch.float64, generator=generator)
    targets = torch.randint(0, 11, (3, 7), generator=generator)
    expected = F.cross_entropy(sequences.flatten(0, 1), targets.flatten())
    torch.testing.assert_close(cross_entropy(sequences, targets), expected, rtol=1e-14, atol=0)
    members = torch.randn(4, 8, 5, dtype=torch.float64, generator=generator)
    per_member = vmap(cross_entropy, in_dims=(0, None))(members, labels)
    torch.testing.assert_close(per_member, torch.stack([F.cross_entropy(m, labels) for m in members]))


def r_squared(output, target):
    """R² of one member's predictions: not a mean over examples."""
    return 1 - ((output - target) ** 2).sum() / ((target - target.mean()) ** 2).sum()


def auc(output, target):
    """The area under the ROC curve: the share of (positive, negative) pairs the scores order right."""
    scores, labels = output.squeeze(-1), target.squeeze(-1)
    positive, negative = scores[labels == 1], scores[labels == 0]
    return (positive[:, None] > negative[None, :]).double().mean()


def numpy_auc(scores, labels):
    positive, negative = scores[labels == 1], scores[labels == 0]
    return (positive[:, None] > negative[None, :]).mean()


def test_a_metric_of_the_whole_split_is_computed_on_the_whole_split_not_averaged_over_chunks():
    import numpy as np

    from decaylab import Metric, Task
    from decaylab.lab.training.loop import evaluate
    from decaylab.lab.training.stacking import StackedModel

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(700, 5, dtype=torch.float64, generator=generator)
    y = x.sum(1, keepdim=True) + torch.randn(700, 1, dtype=torch.float64, generator=generator)
    module = torch.nn.Linear(5, 1).double()
    stacked = StackedModel(module, members=2)
    for name, metric, expected in (
        ("R2", r_squared, lambda out, tgt: 1 - ((out - tgt) ** 2).sum() / ((tgt - tgt.mean()) ** 2).sum()),
        ("AUC", auc, lambda out, tgt: numpy_auc(out[:, 0], (tgt[:, 0] > 0).astype(float))),
    ):
        targets = y if name == "R2" else (y > 0).double()
        task = Task(
            "whole",
            (x[:400], targets[:400]),
            (x[400:], targets[400:]),
            lambda: module,
            loss=torch.nn.functional.mse_loss,
            metric=Metric(name, metric),
            batch_size=25,
        )
        _, measured = evaluate(stacked, task, task.test)  # in chunks of 100: four and a smaller one
        truth = expected(module(x[400:]).detach().numpy(), targets[400:].numpy())
        assert abs(float(measured[0]) - truth) <= 1e-6 and abs(float(measured[1]) - truth) <= 1e-6, name
        chunked = np.mean(
            [
                expected(module(x[400 + i : 500 + i]).detach().numpy(), targets[400 + i : 500 + i].numpy())
                for i in range(0, 300, 100)
            ]
        )
        assert abs(chunked - truth) > 1e-4  # what averaging over chunks would have reported instead
