"""Batches that depend only on (seed, step): resuming at step s yields exactly what an uninterrupted run would."""

from __future__ import annotations

from typing import Iterator

import numpy as np


class StepBatchSampler:
    """An endless stream of shuffled passes over the dataset (pass e shuffled by (seed, e)), cut into global
    batches of batch_size x world; process `rank` takes its slice of every global batch."""

    def __init__(self, size: int, batch_size: int, seed: int, start_step: int, end_step: int, rank: int = 0, world: int = 1):
        if size < 1:
            raise ValueError("cannot sample batches from an empty dataset")
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.start_step, self.end_step, self.rank, self.world = start_step, end_step, rank, world
        self._epoch, self._perm = -1, np.empty(0, np.int64)

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            self._epoch, self._perm = epoch, np.random.default_rng((self.seed, epoch)).permutation(self.size)
        return self._perm

    def batch(self, step: int) -> list[int]:
        first = (step * self.world + self.rank) * self.batch_size  # position in the endless stream
        return [int(self._permutation(p // self.size)[p % self.size]) for p in range(first, first + self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step, self.end_step):
            yield self.batch(step)

    def __len__(self) -> int:
        return max(0, self.end_step - self.start_step)
