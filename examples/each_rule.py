"""Train one small classifier with each decaylab rule and print its final loss.

python examples/each_rule.py
"""

import torch

from decaylab.optim import METHODS, make_optimizer, param_groups


def main() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(512, 20, generator=generator)
    y = (x[:, :5].sum(1) > 0).long()
    print(f"{'method':<13} {'final loss':>10}  description")
    for method, record in METHODS.items():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
        weight_decay = 1e-3 if record.takes_weight_decay else 0.0  # Adam takes none
        optimizer = make_optimizer(method, param_groups(model, weight_decay), lr=1e-2, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=200)
        for _ in range(200):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()
        print(f"{method:<13} {loss.item():10.4f}  {record.description}")


if __name__ == "__main__":
    main()
