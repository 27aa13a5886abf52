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
