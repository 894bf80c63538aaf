"""Global-batch sampling: the same sample order on one process and on N ranks, resumable.

Each epoch is a permutation of the dataset drawn from ``seed + epoch``; it is
cut into global batches of ``batch_size * world`` samples, and rank r takes
the r-th equal share of each. One process with ``batch_size * world`` samples
a batch therefore sees exactly the batches N ranks see together. With more
than one rank the permutation is padded (from its start, like
``DistributedSampler``) to a multiple of ``world`` so every rank gets the same
number of samples in the last, smaller batch.

Items are ``(index, epoch)`` keys: datasets with seeded augmentation draw it
from (seed, epoch, index), so a resumed run sees the same augmented samples.
The trainer keeps the position (epoch, next batch) in its checkpoints.
"""
from __future__ import annotations

import torch


class GlobalBatchSampler:
    def __init__(self, n: int, batch_size: int, world: int = 1, rank: int = 0, seed: int = 0,
                 shuffle: bool = True):
        if n < 1:
            raise ValueError("empty dataset")
        self.n, self.batch_size, self.world, self.rank = int(n), int(batch_size), int(world), int(rank)
        self.seed, self.shuffle = int(seed), bool(shuffle)

    def order(self, epoch: int) -> list:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + int(epoch))
            perm = torch.randperm(self.n, generator=g).tolist()
        else:
            perm = list(range(self.n))
        if self.world > 1 and self.n % self.world:
            pad = self.world - self.n % self.world
            perm += (perm * (pad // self.n + 1))[:pad]
        return perm

    def batches_per_epoch(self) -> int:
        total = len(self.order(0)) if self.world > 1 else self.n
        gb = self.batch_size * self.world
        return (total + gb - 1) // gb

    def epoch_batches(self, epoch: int) -> list:
        """This rank's batches of ``epoch``: lists of (index, epoch)."""
        perm = self.order(epoch)
        gb = self.batch_size * self.world
        out = []
        for k in range(0, len(perm), gb):
            chunk = perm[k:k + gb]
            share = len(chunk) // self.world
            mine = chunk[self.rank * share:(self.rank + 1) * share]
            out.append([(i, epoch) for i in mine])
        return out


class KeyedDataset(torch.utils.data.Dataset):
    """``ds[(index, epoch)]``: ``ds.item(index, epoch)`` when the dataset has it, else ``ds[index]``."""

    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, key):
        i, epoch = key
        item = getattr(self.ds, "item", None)
        return item(int(i), int(epoch)) if item is not None else self.ds[int(i)]

