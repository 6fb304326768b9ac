"""Worker for tests/scale/test_distributed.py: a tiny model trained with signfer's distributed pieces.

Run plainly (one process, a plain shuffled DataLoader) or under torchrun; writes the final
weights and the per-epoch (loss, accuracy) to OUT as a torch file from rank 0.
"""

from __future__ import annotations

import sys

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from signfer.training import distributed


class Flippy(Dataset):
    """n items (x, y) with a FaceDataset-style random flip: one torch.rand draw per item when hflip is on."""

    def __init__(self, n: int = 37, hflip: bool = True):
        g = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, 6, generator=g)
        self.y = (self.x[:, 0] + 0.5 * self.x[:, 3] > 0).long() + (self.x[:, 1] > 1).long()
        self.hflip = hflip

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x = self.x[i]
        if self.hflip and torch.rand(()) < 0.5:
            x = x.flip(0)
        return x, int(self.y[i])


def main(out: str, batch_size: int = 8, epochs: int = 3, workers: int = 0) -> None:
    distributed.setup()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    data = Flippy()
    gen = torch.Generator().manual_seed(7)
    if distributed.is_distributed():
        loader = distributed.train_loader(data, batch_size, gen, workers)
    else:
        loader = DataLoader(data, batch_size=batch_size, shuffle=True, generator=gen, num_workers=workers)
    train_model = distributed.wrap_model(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    history = []
    for _ in range(epochs):
        total, correct, seen = 0.0, 0, 0
        for x, y in loader:
            logits = train_model(x)
            loss = nn.functional.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        total, correct, seen = distributed.all_reduce_sums(total, correct, seen)
        history.append((total / seen, correct / seen, seen))
    if distributed.is_main():
        torch.save({"state": model.state_dict(), "history": history, "gen": gen.get_state(),
                    "world": distributed.world_size()}, out)


if __name__ == "__main__":
    main(sys.argv[1], *map(int, sys.argv[2:]))
